"""Coverage against moto: the logging configuration per region, the AWS/Bedrock metrics per
day, and what the stored logs hold — the matrix, the percentages and the missing cost exact.

The account: logging on in us-east-1 (a CloudWatch log group), off in eu-west-1. AWS measured
100 Nova Lite invocations in us-east-1 on day one, the logs hold 60 of them (and 5 throttled
calls that AWS does not count); in eu-west-1 AWS measured 40 Claude 3 Haiku invocations and
the logs hold none. A delivery failure series in us-east-1 is flagged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from bedrock_explorer.cli import main
from bedrock_explorer.coverage import measure, report
from bedrock_explorer.pricing import book
from bedrock_explorer.pricing.units import Meter
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line

DAY = date(2026, 3, 5)
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
LOG_GROUP = "/bedrock/invocations"
NOVA, HAIKU = "amazon.nova-lite-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"
#: Nova Lite in us-east-1 (published), and our own override for Haiku in eu-west-1.
NOVA_RATES = (Decimal("0.06"), Decimal("0.24"))
HAIKU_EU_RATES = (Decimal("0.30"), Decimal("1.50"))


def _put(region: str, model: str | None, metric: str, value: float, day: date = DAY) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "ModelId", "Value": model}] if model else [],
                "Timestamp": datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
                "Value": value,
            }
        ],
    )


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("bedrock", region_name="us-east-1").put_model_invocation_logging_configuration(
            loggingConfig={
                "cloudWatchConfig": {
                    "logGroupName": LOG_GROUP,
                    "roleArn": "arn:aws:iam::123456789012:role/bedrock-logging",
                },
                "textDataDeliveryEnabled": True,
                "imageDataDeliveryEnabled": False,
                "embeddingDataDeliveryEnabled": True,
            }
        )
        _put("us-east-1", NOVA, "Invocations", 100)
        _put("us-east-1", NOVA, "InputTokenCount", 100 * 1000)
        _put("us-east-1", NOVA, "OutputTokenCount", 100 * 500)
        _put("us-east-1", None, "ModelInvocationLogsCloudWatchDeliverySuccess", 60)
        _put("us-east-1", None, "ModelInvocationLogsCloudWatchDeliveryFailure", 3)
        _put("eu-west-1", HAIKU, "Invocations", 40)
        _put("eu-west-1", HAIKU, "InputTokenCount", 40 * 2000)
        _put("eu-west-1", HAIKU, "OutputTokenCount", 40 * 100)
        store = Store(tmp_path / "coverage.duckdb")
        integ = store.add_integration(
            "prod", "cloudwatch", {"region": "us-east-1", "log_group": LOG_GROUP}
        )
        specs = [
            RecordSpec(request_id=f"ok-{i}", ts=datetime(2026, 3, 5, 9, i, tzinfo=UTC),
                       model_id=NOVA, input_tokens=1000, output_tokens=500)
            for i in range(60)
        ] + [
            RecordSpec(request_id=f"throttled-{i}", ts=datetime(2026, 3, 5, 11, i, tzinfo=UTC),
                       model_id=NOVA, input_tokens=0, output_tokens=0,
                       error_code="ThrottlingException")
            for i in range(5)
        ]  # fmt: skip
        store.write_batch(integ.id, RawBatch("seed", [make_line(s) for s in specs]))
        book.set_override(
            store, HAIKU, {Meter.INPUT: HAIKU_EU_RATES[0], Meter.OUTPUT: HAIKU_EU_RATES[1]},
            effective_from=date(2026, 1, 1), region="eu-west-1", today=date(2026, 3, 10),
        )  # fmt: skip
        try:
            yield store
        finally:
            store.close()


def _refresh(store: Store, **kw: Any) -> measure.Measured:
    session = boto3.Session(region_name="us-east-1")
    scan = kw.pop("scan", lambda _s: ["us-east-1", "us-west-2", "eu-west-1"])
    return measure.refresh(store, "prod", session, DAY, DAY + timedelta(days=1), scan=scan,
                           now=NOW, **kw)  # fmt: skip


def _cost(n: int, tokens_in: int, tokens_out: int, rates: tuple[Decimal, Decimal]) -> Decimal:
    return n * (tokens_in * rates[0] + tokens_out * rates[1]) / Decimal(1_000_000)


def test_logging_per_region_with_the_fix_for_the_gap(account: Store) -> None:
    got = _refresh(account)
    assert [r.region for r in got.regions] == ["us-east-1", "eu-west-1"]  # us-west-2: no metrics
    regions = report.logging_status(account).set_index("region")
    east, west = regions.loc["us-east-1"], regions.loc["eu-west-1"]
    assert east["logging_on"] and east["log_group"] == LOG_GROUP and east["text_delivery"]
    assert east["embedding_delivery"] and not east["image_delivery"] and east["fix"] == ""
    assert west["logging_on"] is False or west["logging_on"] == False  # noqa: E712
    assert "Model invocation logging" in west["fix"] and "--region eu-west-1" in west["fix"]
    assert got.metrics_asked == 3 + 3 + 2 * len(measure.DELIVERY_METRICS)


def test_logged_vs_measured_per_day_region_and_model_is_exact(account: Store) -> None:
    _refresh(account)
    days = report.daily(account, DAY, DAY + timedelta(days=1)).set_index(["region", "model_id"])
    east = days.loc[("us-east-1", NOVA)]
    # the throttled calls are logged but not counted, as AWS's Invocations does not count them
    assert (east["logged_invocations"], east["measured_invocations"]) == (60, 100)
    assert east["coverage_pct"] == 60.0 and east["missing_invocations"] == 40
    assert (east["missing_input_tokens"], east["missing_output_tokens"]) == (40_000, 20_000)
    assert round(Decimal(str(east["missing_cost"])), 8) == _cost(40, 1000, 500, NOVA_RATES)
    west = days.loc[("eu-west-1", HAIKU)]
    assert (west["logged_invocations"], west["coverage_pct"]) == (0, 0.0)
    assert round(Decimal(str(west["missing_cost"])), 8) == _cost(40, 2000, 100, HAIKU_EU_RATES)
    summary = report.summary(account, DAY, DAY + timedelta(days=1))
    assert summary is not None
    assert summary["coverage_pct"] == round(60 / 140 * 100, 1)
    assert summary["regions_without_logging"] == ["eu-west-1"]
    assert summary["delivery_failures"] == 3
    wide = report.matrix(report.daily(account, DAY, DAY + timedelta(days=1)))
    assert wide.set_index("region").loc["us-east-1", f"{DAY:%Y-%m-%d}"] == 60.0
    assert wide.set_index("region").loc["eu-west-1", f"{DAY:%Y-%m-%d}"] == 0.0


def test_a_delivery_failure_is_flagged(account: Store) -> None:
    _refresh(account)
    health = report.delivery(account, DAY, DAY + timedelta(days=1))
    failed = health[health["failed"] > 0]
    assert list(failed["metric"]) == ["ModelInvocationLogsCloudWatchDeliveryFailure"]
    assert failed["value"].iloc[0] == 3 and failed["region"].iloc[0] == "us-east-1"


def test_a_model_without_a_price_leaves_the_missing_cost_empty_not_zero(account: Store) -> None:
    _put("eu-west-1", "acme.mystery-v1:0", "Invocations", 7)
    _put("eu-west-1", "acme.mystery-v1:0", "InputTokenCount", 700)
    _refresh(account)
    row = report.daily(account, DAY, DAY).set_index("model_id").loc["acme.mystery-v1:0"]
    assert row["missing_invocations"] == 7
    assert row["missing_cost"] is None or row["missing_cost"] != row["missing_cost"]  # None/NaN
    assert row["missing_cost_status"] == "unpriced"


def test_access_denied_on_metrics_keeps_the_rest_of_the_panel(
    account: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refresh(account)  # a first, complete read
    real_client = measure.aws.client

    def client(session: Any, service: str, region: str | None = None, **kw: Any) -> Any:
        made = real_client(session, service, region, **kw)
        if service == "cloudwatch" and region == "eu-west-1":
            stub = Stubber(made)
            stub.add_client_error("list_metrics", "AccessDenied", "not authorized", 403)
            stub.activate()
        return made

    monkeypatch.setattr(measure.aws, "client", client)
    got = _refresh(account, scan=None, regions=["eu-west-1"])
    west = next(r for r in got.regions if r.region == "eu-west-1")
    assert west.metrics_error and "AWS denied access" in west.metrics_error
    assert "cloudwatch:GetMetricData" in west.metrics_error  # the fix names the permission
    assert west.logging_on is False  # the logging configuration was still read
    east = next(r for r in got.regions if r.region == "us-east-1")
    assert east.metrics_error is None and east.metrics > 0
    # the earlier figures of the refused region are kept, and shown beside its error
    days = report.daily(account, DAY, DAY)
    assert set(days["region"]) == {"us-east-1", "eu-west-1"}
    status = report.logging_status(account).set_index("region")
    assert "AWS denied access" in status.loc["eu-west-1", "metrics_error"]


def test_the_cli_prints_the_same_figures_and_fails_below_the_threshold(
    account: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = account.path
    account.close()
    monkeypatch.setattr(measure, "candidate_regions", lambda _s: ["us-east-1", "eu-west-1"])
    window = ["--from", f"{DAY}", "--to", f"{DAY}"]
    code = main(["--db", str(path), "coverage", *window, "--format", "json", "--fail-below", "50"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # 42.9% < 50%
    assert out["summary"]["coverage_pct"] == 42.9
    by_key = {(d["region"], d["model_id"]): d for d in out["days"]}
    assert by_key[("us-east-1", NOVA)]["missing_invocations"] == 40
    with Store(path) as again:
        same = report.daily(again, DAY, DAY)
    assert len(same) == len(out["days"])
    code = main(["--db", str(path), "coverage", *window, "--no-refresh", "--fail-below", "40"])
    table = capsys.readouterr().out
    assert code == 0
    assert "Logs cover 42.9% of measured invocations (60 of 140)" in table
    assert "Regions without logging: eu-west-1" in table and "throttled" in table


APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def test_the_pages_show_coverage_after_a_refresh(
    account: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Integrations: the panel, refreshed by an admin's click; Explorer: the headline badge."""
    from streamlit.testing.v1 import AppTest

    path = account.path
    account.close()
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(path))
    monkeypatch.setattr(measure, "candidate_regions", lambda _s: ["us-east-1", "eu-west-1"])
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/integrations.py")
    at.run()
    panel = next(e for e in at.expander if e.label.startswith("Coverage"))
    assert any("Not measured yet" in c.value for c in panel.caption)
    next(b for b in at.button if b.label == "Refresh coverage").click().run()
    assert not at.exception
    panel = next(e for e in at.expander if e.label.startswith("Coverage"))
    assert [m.value for m in panel.metric] == ["42.9%"]
    assert any(f"us-east-1: logs to log group {LOG_GROUP}" in s.value for s in panel.success)
    errors = " ".join(e.value for e in panel.error)
    assert "eu-west-1: logs nothing" in errors and "--region eu-west-1" in errors
    assert "Log delivery failed 3 times" in errors
    wide = panel.dataframe[0].value.set_index("region")
    assert wide.loc["us-east-1", f"{DAY:%Y-%m-%d}"] == "60" and wide.loc["eu-west-1"].iloc[0] == "0"
    at.switch_page("streamlit_app.py")
    at.run()
    assert not at.exception
    shown = " ".join(c.value for c in at.caption)
    assert "80 measured invocations are not in the logs" in shown  # 40 + 40
    assert "no logging in eu-west-1" in shown and "3 failed log deliveries" in shown


def test_a_viewer_cannot_refresh_coverage(account: Store) -> None:
    """A refresh calls AWS with the host's credentials: admins only, checked in the store."""
    from bedrock_explorer.access import NotAllowedError, Role
    from bedrock_explorer.audit import Actor

    account.actor = Actor("vera@example.com", "dashboard", Role.VIEWER)
    with pytest.raises(NotAllowedError, match="coverage refreshed"):
        _refresh(account)
    assert report.logging_status(account).empty  # nothing was read or stored
