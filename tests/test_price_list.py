"""``prices refresh``: AWS Price List ``GetProducts`` answers (botocore Stubber) → layer-2 rates.

The product documents follow the shape GetProducts returns (``PriceList`` is a list of JSON
strings; ``product.attributes`` carry ``model`` / ``servicename``, ``usagetype``,
``inferenceType``, ``feature``; ``terms.OnDemand`` holds one term with one price dimension).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from streamlit.testing.v1 import AppTest

from bedrock_explorer import cli, queries
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.pricing import book, price_list
from bedrock_explorer.pricing.units import Meter
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from tests.conftest import line

M = 1_000_000
APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
BR = price_list.SERVICE_BEDROCK
FM = price_list.SERVICE_FOUNDATION_MODELS


def product(
    service: str,
    name: str,
    usagetype: str,
    usd: str,
    unit: str,
    *,
    effective: str = "2026-06-01T00:00:00Z",
    **attributes: str,
) -> str:
    sku = f"SKU{abs(hash((service, name, usagetype, effective))) % 10**12:012d}"
    named = {"model": name} if service == BR else {"servicename": name}
    return json.dumps(
        {
            "product": {
                "productFamily": "Amazon Bedrock" if service == BR else "AI Model",
                "sku": sku,
                "attributes": {
                    "servicecode": service,
                    "regionCode": "us-east-1",
                    "location": "US East (N. Virginia)",
                    "usagetype": usagetype,
                    **named,
                    **attributes,
                },
            },
            "serviceCode": service,
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "offerTermCode": "JRTCKXETXF",
                        "sku": sku,
                        "effectiveDate": effective,
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": unit,
                                "description": f"{usd} USD per {unit} for {usagetype}",
                                "beginRange": "0",
                                "endRange": "Inf",
                                "pricePerUnit": {"USD": usd},
                                "appliesTo": [],
                            }
                        },
                    }
                }
            },
            "version": "20260601000000",
            "publicationDate": "2026-06-01T00:00:00Z",
        }
    )


def nova_lite(**kw: Any) -> list[str]:
    on_demand = {"feature": "On-demand Inference"}
    return [
        product(BR, "Nova Lite", "USE1-NovaLite-input-tokens", "0.000066", "1K tokens",
                inferenceType="Input tokens", **on_demand, **kw),
        product(BR, "Nova Lite", "USE1-NovaLite-output-tokens", "0.000264", "1K tokens",
                inferenceType="Output tokens", **on_demand, **kw),
    ]  # fmt: skip


SONNET = "Claude Sonnet 4.5 (Amazon Bedrock Edition)"
BEDROCK_PRODUCTS = [
    *nova_lite(),
    # Not per-token on demand: skipped and counted, never guessed at.
    product(BR, "Nova Lite", "USE1-NovaLite-batch-input-tokens", "0.00003", "1K tokens",
            feature="Batch Inference", inferenceType="Input tokens"),
    product(BR, "Nova Lite", "USE1-NovaLite-input-tokens-flex", "0.00003", "1K tokens",
            feature="On-demand Inference", inferenceType="Input tokens", service_tier="flex"),
    product(BR, "Nova Canvas", "USE1-NovaCanvas-T2I-1024-Standard", "0.04", "Images",
            feature="On-demand Inference"),
    product(BR, "Nova Lite", "USE1-NovaLite-ProvisionedThroughput", "120", "Hours",
            feature="Provisioned Throughput"),
    # A name no known model id has: reported, its rates unused.
    product(BR, "Mistral Large 2 (24.07)", "USE1-MistralLarge2407-input-tokens", "0.002",
            "1K tokens", feature="On-demand Inference", inferenceType="Input tokens"),
]  # fmt: skip
FOUNDATION_PRODUCTS = [
    # Marketplace units say only "Units": this service quotes per 1M tokens.
    product(FM, SONNET, "USE1-MP:USE1_InputTokenCount-Units", "3.3", "Units"),
    product(FM, SONNET, "USE1-MP:USE1_OutputTokenCount-Units", "16.5", "Units"),
    product(FM, SONNET, "USE1-MP:USE1_InputTokenCount_Global-Units", "3", "Units"),
    product(FM, SONNET, "USE1-MP:USE1_OutputTokenCount_Global-Units", "15", "Units"),
    product(FM, SONNET, "USE1-MP:USE1_CacheReadInputTokenCount_Global-Units", "0.3", "Units"),
    product(FM, SONNET, "USE1-MP:USE1_LCtx_InputTokenCount-Units", "6.6", "Units"),
    # "Command R+" must not be taken for Command R; "Command R" at R+'s price is held back.
    product(FM, "Command R (Amazon Bedrock Edition)", "USE1-MP:USE1_InputTokenCount-Units",
            "3", "Units"),
]  # fmt: skip


def stubbed_client(
    bedrock: list[str],
    foundation: list[str],
    *,
    page_size: int = 3,
    regions: tuple[str, ...] = ("us-east-1",),
) -> tuple[Any, Stubber]:
    client = boto3.client(
        "pricing",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stub = Stubber(client)
    for region in regions:
        for service, items in ((BR, bedrock), (FM, foundation)):
            pages = [items[i : i + page_size] for i in range(0, len(items), page_size)] or [[]]
            for n, page in enumerate(pages):
                expected = {
                    "ServiceCode": service,
                    "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
                    "FormatVersion": "aws_v1",
                }
                if n:
                    expected["NextToken"] = f"{service}-{n}"
                answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": page}
                if n + 1 < len(pages):
                    answer["NextToken"] = f"{service}-{n + 1}"
                stub.add_response("get_products", answer, expected)
    stub.activate()
    return client, stub


def _store_invocations(store: Store) -> None:
    integ = store.add_integration("x", "local")
    old, new = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    lines = [
        line(request_id=f"nova-{ts.month}", model_id="amazon.nova-lite-v1:0", ts=ts,
             input_tokens=M, output_tokens=M)
        for ts in (old, new)
    ] + [
        line(request_id="sonnet-us", model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
             ts=new, input_tokens=100_000, output_tokens=0),
        line(request_id="sonnet-global",
             model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0", ts=new,
             input_tokens=100_000, output_tokens=0, cache_read_tokens=50_000),
    ]  # fmt: skip
    store.write_batch(integ.id, RawBatch("f", lines))
    book.compile_price_points(store)


def _costs(store: Store) -> dict[str, float]:
    return dict(store.con.execute(f"SELECT request_id, cost FROM ({queries.PRICED})").fetchall())


def test_refresh_stores_on_demand_rates_with_units_and_provenance(store: Store) -> None:
    _store_invocations(store)
    before = _costs(store)
    assert before["nova-7"] == pytest.approx(0.06 + 0.24)  # genai-prices: $0.06 / $0.24 per 1M
    client, stub = stubbed_client(BEDROCK_PRODUCTS, FOUNDATION_PRODUCTS)
    report = price_list.refresh(store, client)
    stub.assert_no_pending_responses()
    assert report.products == len(BEDROCK_PRODUCTS) + len(FOUNDATION_PRODUCTS)
    assert report.models == {
        "amazon.nova-lite-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
    }
    assert sum(report.skipped.values()) == 5
    assert report.skipped["long-context tier (its threshold is not in the Price List)"] == 1
    assert report.unmatched == {"Mistral Large 2 (24.07)": 1}
    assert len(report.held_back) == 1 and report.held_back[0].startswith("Command R →")
    assert "cohere.command-r-plus-v1:0" not in " ".join(report.held_back)

    after = _costs(store)
    # Per 1K tokens for AmazonBedrock: $0.000066 / 1K = $0.066 per 1M — from its date on.
    assert after["nova-7"] == pytest.approx(0.066 + 0.264)
    assert after["nova-3"] == pytest.approx(before["nova-3"])  # before 2026-06-01: as it was
    # Per 1M tokens for the marketplace: geo is regional ($3.30), global its own ($3.00),
    # and the global cache read from the Price List too (100k input, 50k cache read).
    assert after["sonnet-us"] == pytest.approx(0.33)
    assert after["sonnet-global"] == pytest.approx(0.30 + 0.015)
    source, note = store.con.execute(
        "SELECT source, note FROM rates WHERE layer = 2 AND model_key = 'amazon.nova-lite-v1:0' "
        "AND meter = 'input'"
    ).fetchone()
    assert source == "AWS Price List API (AmazonBedrock, us-east-1)"
    assert "USE1-NovaLite-input-tokens" in note
    points = store.con.execute(
        "SELECT source FROM price_points WHERE model_id = 'amazon.nova-lite-v1:0' "
        "AND tier = 'standard' ORDER BY valid_from DESC LIMIT 1"
    ).fetchone()[0]
    assert "AWS Price List API (AmazonBedrock, us-east-1) (input, output)" in points


def test_a_second_refresh_keeps_history_and_ends_a_changed_price_where_the_new_one_starts(
    store: Store,
) -> None:
    _store_invocations(store)
    client, _ = stubbed_client(nova_lite(), [])
    assert price_list.refresh(store, client).stored == 2
    client, _ = stubbed_client(nova_lite(), [])
    again = price_list.refresh(store, client)
    assert (again.stored, again.unchanged) == (0, 2)
    cheaper = [
        text.replace('"0.000066"', '"0.000033"').replace("2026-06-01T", "2026-06-20T")
        for text in nova_lite()
    ]
    client, _ = stubbed_client(cheaper, [])
    assert price_list.refresh(store, client).stored == 1  # only input changed
    rows = store.con.execute(
        "SELECT effective_from, effective_to, usd_per_unit FROM rates "
        "WHERE layer = 2 AND meter = 'input' ORDER BY effective_from"
    ).fetchall()
    assert [(str(a), str(b) if b else None, c * M) for a, b, c in rows] == [
        ("2026-06-01", "2026-06-20", Decimal("0.066")),
        ("2026-06-20", None, Decimal("0.033")),
    ]
    assert _costs(store)["nova-7"] == pytest.approx(0.033 + 0.264)


def test_a_regional_price_list_rate_does_not_override_a_known_global_price(
    store: Store,
) -> None:
    _store_invocations(store)
    regional_only = [p for p in FOUNDATION_PRODUCTS if "Global" not in p and "LCtx" not in p]
    client, _ = stubbed_client([], regional_only)
    price_list.refresh(store, client)
    costs = _costs(store)
    assert costs["sonnet-us"] == pytest.approx(0.33)
    assert costs["sonnet-global"] == pytest.approx(0.30 + 0.015)  # still genai-prices' global


def test_a_name_mapped_by_hand_is_used_and_is_not_held_back(store: Store) -> None:
    _store_invocations(store)
    price_list.map_name(store, "Mistral Large 2 (24.07)", "mistral.mistral-large-2407-v1:0")
    client, _ = stubbed_client(BEDROCK_PRODUCTS, [])
    report = price_list.refresh(store, client)
    assert report.unmatched == {}
    assert "mistral.mistral-large-2407-v1:0" in report.models
    price = store.con.execute(
        "SELECT usd_per_unit FROM rates WHERE layer = 2 AND model_key = ?",
        ["mistral.mistral-large-2407-v1:0"],
    ).fetchone()[0]
    assert price * M == Decimal("2.000")  # $0.002 per 1K


@pytest.mark.parametrize(
    ("unit", "usd", "per_million"),
    [("1K tokens", "0.003", 3), ("1M tokens", "3", 3), ("Million tokens", "3", 3)],
)
def test_the_unit_of_a_price_dimension_decides_the_scale(
    unit: str, usd: str, per_million: float
) -> None:
    for service in (BR, FM):
        offer = price_list.parse_offer(
            service,
            json.loads(product(service, "X", "USE1-X-input-tokens", usd, unit,
                               inferenceType="Input tokens")),
        )  # fmt: skip
        assert isinstance(offer, price_list.Offer)
        assert offer.meter == Meter.INPUT
        assert offer.price.display == per_million


def test_an_implausible_figure_is_refused_not_stored() -> None:
    # $3 "per 1K tokens" is $3,000 per 1M: a unit slip upstream, not a price.
    offer = price_list.parse_offer(
        BR, json.loads(product(BR, "X", "USE1-X-input-tokens", "3", "1K tokens"))
    )
    assert offer == "implausible price for its unit"


def test_names_match_model_ids_only_exactly() -> None:
    keys = [
        "amazon.nova-lite-v1:0",
        "amazon.nova-2-lite-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "meta.llama3-1-8b-instruct-v1:0",
        "cohere.command-r-v1:0",
        "cohere.command-r-plus-v1:0",
    ]
    names = {
        "Nova Lite": {"amazon.nova-lite-v1:0"},
        "Amazon Nova Lite": {"amazon.nova-lite-v1:0"},
        "Nova 2.0 Lite": {"amazon.nova-2-lite-v1:0"},
        "Claude 3.5 Sonnet (Amazon Bedrock Edition)": {"anthropic.claude-3-5-sonnet-20240620-v1:0"},
        "Claude 3.5 Sonnet v2": {"anthropic.claude-3-5-sonnet-20241022-v2:0"},
        "Llama 3.1 8B Instruct": {"meta.llama3-1-8b-instruct-v1:0"},
        "Command R+": {"cohere.command-r-plus-v1:0"},
        "Command R": {"cohere.command-r-v1:0"},
        "Nova": None,
        "Llama 3.1 8B": None,
    }
    matched, automatic = price_list.match_names(names, keys, {})
    assert {n: matched.get(n) for n in names} == names
    assert automatic == set(matched)


def test_access_denied_names_the_permission(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    stub = Stubber(client)
    stub.add_client_error(
        "get_products",
        "AccessDeniedException",
        "User: arn:aws:iam::111122223333:user/finops is not authorized to perform: "
        "pricing:GetProducts",
        expected_params={"ServiceCode": BR, "Filters": ANY, "FormatVersion": "aws_v1"},
    )
    stub.activate()
    monkeypatch.setattr(price_list.aws, "client", lambda *a, **k: client)
    monkeypatch.setattr(price_list.aws, "session", lambda *a, **k: None)
    with pytest.raises(UserFacingError, match="pricing:GetProducts") as raised:
        price_list.refresh_from_aws(store)
    assert "Price List" in str(raised.value)
    assert store.con.execute("SELECT count(*) FROM rates WHERE layer = 2").fetchone()[0] == 0


def test_the_cli_refreshes_and_maps(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_invocations(store)
    path = store.path
    store.close()
    client, _ = stubbed_client(BEDROCK_PRODUCTS, FOUNDATION_PRODUCTS)
    monkeypatch.setattr(price_list.aws, "client", lambda *a, **k: client)
    monkeypatch.setattr(price_list.aws, "session", lambda *a, **k: None)
    assert cli.main(["--db", str(path), "prices", "refresh"]) == 0
    out = capsys.readouterr().out
    assert "for 2 models" in out
    assert "Mistral Large 2 (24.07) (1 rates)" in out
    assert 'prices map "NAME" MODEL_ID' in out
    assert "held back: Command R →" in out
    assert cli.main(["--db", str(path), "prices", "map", "Mistral Large 2 (24.07)",
                     "mistral.mistral-large-2407-v1:0"]) == 0  # fmt: skip
    assert cli.main(["--db", str(path), "prices", "map", "X", "us.amazon.nova-lite-v1:0"]) == 1
    assert "not a base model id" in capsys.readouterr().err
    with Store(path) as reopened:
        assert price_list.name_map(reopened) == {
            "Mistral Large 2 (24.07)": "mistral.mistral-large-2407-v1:0"
        }


def test_all_regions_reads_each_source_region_the_logs_name(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_invocations(store)
    eu = line(request_id="eu", model_id="amazon.nova-lite-v1:0", region="eu-west-1")
    store.write_batch(store.get_integration("x").id, RawBatch("g", [eu]))
    assert price_list.regions_in_data(store) == ["eu-west-1", "us-east-1"]
    path = store.path
    store.close()
    client, stub = stubbed_client(
        BEDROCK_PRODUCTS, FOUNDATION_PRODUCTS, regions=("eu-west-1", "us-east-1")
    )
    monkeypatch.setattr(price_list.aws, "client", lambda *a, **k: client)
    monkeypatch.setattr(price_list.aws, "session", lambda *a, **k: None)
    assert cli.main(["--db", str(path), "prices", "refresh", "--all-regions", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["region"] for r in reports] == ["eu-west-1", "us-east-1"]
    assert all(r["rates_stored"] > 0 for r in reports)
    stub.assert_no_pending_responses()  # every region's pages were asked for, in turn
    with Store(path) as reopened:
        regions = reopened.con.execute(
            "SELECT DISTINCT region FROM rates WHERE layer = 2 ORDER BY 1"
        ).fetchall()
        assert regions == [("eu-west-1",), ("us-east-1",)]
        # the eu-west-1 call is priced by the eu-west-1 Price List rate (compiled once, at the end)
        source = reopened.con.execute(
            "SELECT source FROM price_points WHERE model_id = 'amazon.nova-lite-v1:0' "
            "AND region = 'eu-west-1' AND tier = 'standard' ORDER BY valid_from DESC LIMIT 1"
        ).fetchall()[0][0]
        assert "eu-west-1" in source and "Price List" in source


def test_the_explorer_page_refreshes_prices(
    store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_invocations(store)
    store.close()
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(db_path))
    client, _ = stubbed_client(BEDROCK_PRODUCTS, FOUNDATION_PRODUCTS)
    monkeypatch.setattr(price_list.aws, "client", lambda *a, **k: client)
    monkeypatch.setattr(price_list.aws, "session", lambda *a, **k: None)
    app = AppTest.from_file(str(APP), default_timeout=90)
    app.session_state["ex_prices_box"] = True  # the prices panel, opened
    app.run()
    assert not app.exception
    app.button(key="pl_refresh").click().run()
    assert not app.exception
    assert "rates stored" in app.success[0].value and "for 2 models" in app.success[0].value
    warnings = " ".join(w.value for w in app.warning)
    assert "Mistral Large 2 (24.07)" in warnings and "Held back: Command R" in warnings


def test_the_explorer_page_refreshes_every_region_the_logs_name(
    store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_invocations(store)
    eu = line(request_id="eu", model_id="amazon.nova-lite-v1:0", region="eu-west-1")
    store.write_batch(store.get_integration("x").id, RawBatch("g", [eu]))
    store.close()
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(db_path))
    client, stub = stubbed_client(
        BEDROCK_PRODUCTS, FOUNDATION_PRODUCTS, regions=("eu-west-1", "us-east-1")
    )
    monkeypatch.setattr(price_list.aws, "client", lambda *a, **k: client)
    monkeypatch.setattr(price_list.aws, "session", lambda *a, **k: None)
    app = AppTest.from_file(str(APP), default_timeout=90)
    app.session_state["ex_prices_box"] = True
    app.run()
    app.checkbox(key="pl_all_regions").check().run()
    assert app.text_input(key="pl_region").disabled
    app.button(key="pl_refresh").click().run()
    assert not app.exception
    assert [s.value.split(":")[0] for s in app.success] == ["eu-west-1", "us-east-1"]
    stub.assert_no_pending_responses()
