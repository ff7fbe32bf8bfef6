"""A new user's first hour, and the next day, in a real browser against moto_server.

The account (moto): a log group with 3,000 invocation records over the last 10 days, model
invocation logging on, and the integration's role carrying the classic inline policy whose Deny
on ``logs:GetLogEvents`` breaks commercial tools' setups. The user goes through the wizard, meets
the deny, fixes it, mistypes the log group, syncs, filters the Explorer to one model and one team,
and downloads the CSV — whose total must equal the cost computed here from the seeded records and
AWS's published prices. Then the app restarts and the shared link, the data and an incremental
sync are checked.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3

from bedrock_explorer.store import Store
from tests.aws_seed import LOG_GROUP, make_records, seed_log_group
from tests.e2e.conftest import Servers, settle, settle_after_change
from tests.iam_samples import CLASSIC, TRUST
from tests.test_explorer import cents, expected_cost

ROLE = "BedrockExplorerRead"
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"
NAME = "e2e-prod"
MODEL = "amazon.nova-lite-v1:0"


def _aws(servers: Servers, service: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=servers.aws_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _seed(servers: Servers):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    records = make_records(3000, start=now - timedelta(days=10), end=now - timedelta(minutes=10))
    seed_log_group(_aws(servers, "logs"), records)
    _aws(servers, "bedrock").put_model_invocation_logging_configuration(
        loggingConfig={
            "cloudWatchConfig": {"logGroupName": LOG_GROUP, "roleArn": ROLE_ARN},
            "textDataDeliveryEnabled": True,
        }
    )
    iam = _aws(servers, "iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(
        RoleName=ROLE, PolicyName="NopsIntegrationPolicy", PolicyDocument=json.dumps(CLASSIC)
    )
    return records


def _button(pg, name: str):  # type: ignore[no-untyped-def]
    return pg.get_by_role("button", name=name, exact=True)


def _click(pg, name: str) -> None:  # type: ignore[no-untyped-def]
    """Click a button once the page is still, then wait for the rerun it starts."""
    settle(pg)
    _button(pg, name).click()
    settle_after_change(pg)


def _type(pg, label: str, text: str) -> None:  # type: ignore[no-untyped-def]
    box = pg.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    settle_after_change(pg)


def _pick(pg, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    widget = pg.locator("[data-testid=stMultiSelect]").filter(has=pg.get_by_text(label, exact=True))
    widget.locator("input").click()
    pg.keyboard.type(option)
    # the first row may be "Select N matches": move down to the option that is exactly ours
    for _ in range(10):
        focused = pg.locator("[role=option][data-focused=true]")
        if focused.count() and focused.first.inner_text().strip() == option:
            break
        pg.keyboard.press("ArrowDown")
    pg.keyboard.press("Enter")
    pg.keyboard.press("Escape")
    settle_after_change(pg)
    assert widget.get_by_text(option, exact=True).is_visible(), f"{option} not chosen"


def start_role_wizard(pg, role_arn: str) -> None:  # type: ignore[no-untyped-def]
    """From any page: open the wizard, sign in by assuming ``role_arn``, check logging."""
    pg.get_by_role("link", name="Integrations").click()
    _click(pg, "Add Bedrock integration")
    pg.get_by_text("Assume a role", exact=True).click()
    settle(pg)
    _type(pg, "Role ARN", role_arn)
    _click(pg, "Check logging configuration")


def _metric(pg, label: str) -> str:  # type: ignore[no-untyped-def]
    label_el = pg.locator("[data-testid=stMetricLabel]").get_by_text(label, exact=True)
    metric = pg.locator("[data-testid=stMetric]").filter(has=label_el)
    return metric.locator("[data-testid=stMetricValue]").inner_text()


def _sync_now(pg, servers: Servers, name: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Click the Integrations list's one *Sync now* (demo integrations have none); returns the
    integration's stored invocations and its last sync message."""
    _button(pg, "Sync now").wait_for()
    settle(pg)
    last = pg.get_by_text(re.compile("^Last successful sync"))
    before = last.first.inner_text() if last.count() else ""
    _button(pg, "Sync now").click()
    settle_after_change(pg)
    # the sync runs in the background; the card shows its result when it ends
    pg.wait_for_function(
        """before => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]
            .some(e => e.innerText.startsWith('Last successful sync') && e.innerText !== before)""",
        arg=before,
        timeout=120_000,
    )
    with Store(servers.db_path, wait_seconds=30) as store:
        integ = store.get_integration(name)
        count = store.con.execute(
            "SELECT count(*) FROM invocations WHERE integration_id = ?", [integ.id]
        ).fetchall()[0][0]
    return count, integ.last_sync_message


def test_first_hour_then_the_next_day(servers: Servers, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records = _seed(servers)
    page.goto(servers.app_url)
    page.get_by_text("Cost over time").wait_for(timeout=120_000)
    assert page.get_by_text("You are looking at demo data").is_visible()
    settle(page)

    # -- the wizard ------------------------------------------------------------------------
    start_role_wizard(page, ROLE_ARN)
    page.get_by_text(f"delivering to CloudWatch Logs log group {LOG_GROUP}").wait_for()
    _click(page, "Next")

    _click(page, "Check permissions")
    # the classic Deny on GetLogEvents blocks nothing the sync calls: it passes, the Deny stays
    page.get_by_text("Everything Bedrock Explorer needs is allowed").wait_for()
    page.get_by_text(re.compile("does not do that on its own")).wait_for()
    _click(page, "Next")

    _type(page, "Integration name", NAME)
    _type(page, "Log group name", "/aws/bedrock/modelinvocation")
    _click(page, "Save and continue")
    page.get_by_text(f"did you mean '{LOG_GROUP}'").wait_for()
    with Store(servers.db_path, wait_seconds=30) as store:
        assert store.find_integration(NAME) is None, "nothing saved before the name is right"
    _type(page, "Log group name", LOG_GROUP)
    _click(page, "Save and continue")
    page.get_by_text("A record parses").wait_for()

    settle(page)
    _button(page, "Run the first sync").click()
    page.locator("[data-testid=stProgress]").first.wait_for()
    page.get_by_text(re.compile("3,000 new invocations")).wait_for(timeout=120_000)
    settle(page)
    page.get_by_role("link", name=f"See the costs of {NAME}").click()

    # -- the Explorer ----------------------------------------------------------------------
    page.get_by_text("Cost by model").wait_for(timeout=60_000)
    settle(page)
    assert _metric(page, "Invocations") == "3,000"
    # the link from the card filters on the integration: its chip shows, the title counts it
    page.get_by_role("button", name=re.compile(f"Integration: {re.escape(NAME)}")).wait_for()
    page.get_by_text(re.compile(r"^Filters · 1 active$")).click()
    _pick(page, "Model", MODEL)
    _pick(page, "requestMetadata key = value", "team=search")
    chosen = [
        s for s in records.specs if s.model_id == MODEL and s.request_metadata["team"] == "search"
    ]
    truth = cents(expected_cost(chosen))
    assert _metric(page, "Invocations") == f"{len(chosen):,}"
    assert _metric(page, "Total cost") == f"${truth:,}"
    with page.expect_download() as download:
        _button(page, "Download grouped CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert "team-search" in saved.name and MODEL.replace(":", "-") in saved.name
    rows = list(csv.DictReader(saved.open()))
    assert cents(sum(Decimal(r["cost_usd"]) for r in rows)) == truth
    with page.expect_download() as download:
        _button(page, f"Download all {len(chosen):,} invocations (CSV)").click()
    detail = tmp_path / download.value.suggested_filename
    download.value.save_as(detail)
    detail_rows = list(csv.DictReader(detail.open()))
    assert {r["request_id"] for r in detail_rows} == {s.request_id for s in chosen}
    assert cents(sum(Decimal(r["cost_usd"]) for r in detail_rows)) == truth
    shared = page.url
    assert "models=" in shared and "meta=team" in shared

    # -- the next day: restart, the shared link, an incremental sync -----------------------
    servers.restart_app()
    page.goto(shared)
    page.get_by_text("Cost by model").wait_for(timeout=60_000)
    settle(page)
    assert _metric(page, "Total cost") == f"${truth:,}"
    now = datetime.now(UTC)
    # Bedrock delivers within minutes: the new events are from the last few minutes
    fresh = make_records(
        50, start=now - timedelta(minutes=8), end=now - timedelta(minutes=3), seed=3
    )
    seed_log_group(_aws(servers, "logs"), fresh, create=False)
    page.get_by_role("link", name="Integrations").click()
    count, message = _sync_now(page, servers, NAME)
    assert count == 3050
    assert "50 new invocations" in message
    fetched = int(re.search(r"([\d,]+) events fetched", message).group(1).replace(",", ""))
    assert fetched < 500, "only the overlap and the new events are read again"
