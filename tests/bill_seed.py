"""A synthetic month of Bedrock use and the AWS bill for it, with AWS's CUR 2.0 column names.

The invocations (us-east-1, account 111122223333, two callers, two teams) use three models,
one per usage-type grammar on real bills:

- Nova Lite, in-region — AmazonBedrock kebab case (``USE1-NovaLite-input-tokens``, per 1K);
- Claude 3 Haiku, in-region — Marketplace CamelCase (``USE1-MP:USE1_InputTokenCount-Units``);
- Claude Sonnet 4.5, global — Marketplace snake case
  (``USE1-MP:USE1_input_tokens_global_standard-Units``).

The bill is built from AWS's published list prices (below), not from this tool's estimate, so a
reconciled bucket means the estimate really matches. Departures, each on its own day:

- day 3: AWS billed 10% more Nova Lite input tokens than the logs hold (a coverage gap);
- day 4: Haiku carries a 5% discount (net unblended = 0.95 x unblended);
- day 5: a usage type no grammar knows (``USE1-NovaLite-mystery-meter``), $1.23;
- day 6: Claude Sonnet 4.5 billed but never logged (``billed, not logged``).
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line

ACCOUNT = "111122223333"
NOVA = "amazon.nova-lite-v1:0"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET_BASE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
FIRST = date(2026, 3, 1)
DAYS = 7  # 1..7 March: closed on the frozen 10 March
PENDING_DAY = date(2026, 3, 9)
#: USD per 1M tokens, AWS's published us-east-1 on-demand prices.
RATES = {
    NOVA: (Decimal("0.06"), Decimal("0.24")),
    HAIKU: (Decimal("0.25"), Decimal("1.25")),
    SONNET_BASE: (Decimal("3.00"), Decimal("15.00")),
}
CALLERS = {
    "alice": ("arn:aws:sts::111122223333:assumed-role/App/alice", "search"),
    "bob": ("arn:aws:sts::111122223333:assumed-role/App/bob", "support"),
}
GAP_DAY, DISCOUNT_DAY, UNKNOWN_DAY, UNLOGGED_DAY = (FIRST + timedelta(days=d) for d in (2, 3, 4, 5))
UNKNOWN_COST = 1.23


@dataclass(frozen=True)
class Call:
    day: date
    model: str
    caller: str
    input_tokens: int
    output_tokens: int


def calls() -> list[Call]:
    """Per closed day: Nova Lite and Haiku from both callers (Sonnet on the other days), with
    token counts that differ by day, model and caller; and one Nova call on the pending day."""
    out = []
    for d in range(DAYS):
        day = FIRST + timedelta(days=d)
        for n, caller in enumerate(CALLERS):
            out.append(Call(day, NOVA, caller, 10_000 * (d + 1) + 1000 * n, 2_000 * (n + 1)))
            out.append(Call(day, HAIKU, caller, 4_000 + 100 * d, 800 + 50 * n))
            if day != UNLOGGED_DAY:
                out.append(Call(day, SONNET, caller, 20_000 + 500 * n, 1_000 * (d + 1)))
    out.append(Call(PENDING_DAY, NOVA, "alice", 5_000, 500))
    return out


def seed_logs(store: Store, name: str = "prod") -> int:
    """The invocations, in an integration ``name``; returns its id."""
    integ = store.add_integration(name, "local", {"path": "/tmp/none"})
    specs = []
    for i, call in enumerate(calls()):
        arn, team = CALLERS[call.caller]
        specs.append(
            RecordSpec(
                request_id=f"r-{i}",
                ts=datetime(call.day.year, call.day.month, call.day.day, 9, i % 60, tzinfo=UTC),
                model_id=call.model,
                account_id=ACCOUNT,
                identity_arn=arn,
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                request_metadata={"team": team},
            )
        )
    store.write_batch(integ.id, RawBatch("seed", [make_line(s) for s in specs]))
    return integ.id


def _base(model: str) -> str:
    return SONNET_BASE if model == SONNET else model


def _rows() -> list[dict[str, Any]]:
    """The CUR 2.0 Usage lines of the bill (one per day, model and meter), and the departures."""
    sums: dict[tuple[date, str, str], int] = {}
    for call in calls():
        if call.day == PENDING_DAY:
            continue
        for meter, tokens in (("input", call.input_tokens), ("output", call.output_tokens)):
            key = (call.day, _base(call.model), meter)
            sums[key] = sums.get(key, 0) + tokens
    for d in (UNLOGGED_DAY,):  # Sonnet used on that day, the logs never saw it
        sums[(d, SONNET_BASE, "input")] = 30_000
        sums[(d, SONNET_BASE, "output")] = 4_000
    rows = []
    for (day, model, meter), tokens in sorted(sums.items()):
        if day == GAP_DAY and model == NOVA and meter == "input":
            tokens = round(tokens * 1.1)
        rate = RATES[model][0 if meter == "input" else 1]
        cost = Decimal(tokens) * rate / 1_000_000
        net = cost * Decimal("0.95") if (day == DISCOUNT_DAY and model == HAIKU) else cost
        rows.append(_line(day, model, meter, tokens, cost, net))
    rows.append(
        {
            **_line(UNKNOWN_DAY, NOVA, "input", 0, Decimal(0), Decimal(0)),
            "line_item_usage_type": "USE1-NovaLite-mystery-meter",
            "line_item_usage_amount": 3.0,
            "line_item_unblended_cost": UNKNOWN_COST,
            "line_item_net_unblended_cost": UNKNOWN_COST,
        }
    )
    return rows


def _line(
    day: date, model: str, meter: str, tokens: int, cost: Decimal, net: Decimal
) -> dict[str, Any]:
    if model == NOVA:
        usage_type = f"USE1-NovaLite-{meter}-tokens"
        unit, amount = "1K tokens", tokens / 1000
        product_code, product_name, entity = "AmazonBedrock", "Amazon Bedrock", "AWS"
    elif model == HAIKU:
        usage_type = f"USE1-MP:USE1_{'Input' if meter == 'input' else 'Output'}TokenCount-Units"
        unit, amount = "1M tokens", tokens / 1_000_000
        product_code, product_name = (
            "b7ksdx1cx3kx6ocb2hy2yq1c8",
            "Claude 3 Haiku (Amazon Bedrock Edition)",
        )
        entity = "AWS Marketplace"
    else:
        usage_type = f"USE1-MP:USE1_{meter}_tokens_global_standard-Units"
        unit, amount = "1M tokens", tokens / 1_000_000
        product_code, product_name = (
            "c2wy6h3vtk5i9klyv1pvk6zq7",
            "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
        )
        entity = "AWS Marketplace"
    start = datetime(day.year, day.month, day.day)
    return {
        "identity_line_item_id": f"{day}-{model}-{meter}",
        "identity_time_interval": f"{start:%Y-%m-%dT%H:%M:%SZ}/"
        f"{start + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
        "bill_billing_entity": entity,
        "bill_payer_account_id": "999988887777",
        "bill_billing_period_start_date": datetime(2026, 3, 1),
        "line_item_line_item_type": "Usage",
        "line_item_usage_account_id": ACCOUNT,
        "line_item_usage_start_date": start,
        "line_item_usage_end_date": start + timedelta(days=1),
        "line_item_product_code": product_code,
        "line_item_usage_type": usage_type,
        "line_item_operation": "InvokeModelInference",
        "line_item_usage_amount": amount,
        "line_item_unblended_cost": float(cost),
        "line_item_net_unblended_cost": float(net),
        "pricing_unit": unit,
        "product_region_code": "us-east-1",
        "product": {"product_name": product_name, "region": "us-east-1"},
    }


def bill_rows() -> list[dict[str, Any]]:
    return _rows()


def other_service_rows() -> list[dict[str, Any]]:
    """Lines of other services in the same files: never part of the Bedrock bill."""
    start = datetime(2026, 3, 2)
    return [
        {
            **_line(FIRST, NOVA, "input", 0, Decimal(0), Decimal(0)),
            "line_item_product_code": "AmazonEC2",
            "line_item_usage_type": "USE1-BoxUsage:t3.micro",
            "line_item_usage_start_date": start,
            "line_item_unblended_cost": 9.99,
            "line_item_net_unblended_cost": 9.99,
            "pricing_unit": "Hrs",
            "product": {"product_name": "Amazon Elastic Compute Cloud"},
        }
    ]


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    """CUR 2.0 as Data Exports writes it in Parquet: ``product`` a map<string,string>."""
    frame = pd.DataFrame(rows)
    product = pa.array(
        [list(r["product"].items()) for r in rows], type=pa.map_(pa.string(), pa.string())
    )
    table = pa.Table.from_pandas(frame.drop(columns=["product"]), preserve_index=False)
    table = table.append_column("product", product)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], *, gzipped: bool = False) -> Path:
    """CUR 2.0 in CSV: ``product`` a JSON object, timestamps ISO 8601 in UTC."""
    frame = pd.DataFrame(rows)
    frame["product"] = [json.dumps(r["product"]) for r in rows]
    for column in (
        "line_item_usage_start_date",
        "line_item_usage_end_date",
        "bill_billing_period_start_date",
    ):
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = io.StringIO()
    frame.to_csv(text, index=False)
    data = text.getvalue().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


def write_month(folder: Path) -> Path:
    """The month as an export folder: Nova in Parquet, Haiku in CSV.gz, the rest in CSV."""
    rows = bill_rows()
    nova = [r for r in rows if r["line_item_product_code"] == "AmazonBedrock"]
    haiku = [r for r in rows if "Haiku" in r["product"]["product_name"]]
    rest = [r for r in rows if r not in nova and r not in haiku]
    period = folder / "data" / "BILLING_PERIOD=2026-03"
    write_parquet(period / "export-00001.snappy.parquet", nova + other_service_rows())
    write_csv(period / "export-00002.csv.gz", haiku, gzipped=True)
    write_csv(period / "export-00003.csv", rest)
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    (folder / "metadata" / "export-Manifest.json").write_text("{}")
    return folder


def billed_total(net: bool = False) -> float:
    column = "line_item_net_unblended_cost" if net else "line_item_unblended_cost"
    return float(sum(Decimal(str(r[column])) for r in bill_rows()))
