"""A user whose Bedrock logs go to S3 only (where commercial tools now send new customers), in a
real browser against moto_server: the logging check names the bucket and prefix to enter,
the connection test finds log objects, the first sync stores every record, the Explorer shows
them, and a later *Sync now* reads only the newly delivered object.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.aws_seed import make_records, seed_bucket
from tests.e2e.conftest import Servers, settle, settle_after_change
from tests.e2e.test_first_hour import _aws, _button, _click, _metric, _sync_now, _type

BUCKET = "acme-bedrock-logs"
PREFIX = "bedrock"
NAME = "e2e-s3"


def test_s3_only_logs_set_up_synced_and_synced_again(servers_without_demo: Servers, page) -> None:  # type: ignore[no-untyped-def]
    servers = servers_without_demo
    now = datetime.now(UTC)
    records = make_records(2500, start=now - timedelta(days=6), end=now - timedelta(hours=2))
    keys = seed_bucket(_aws(servers, "s3"), records, BUCKET, f"{PREFIX}/")
    _aws(servers, "bedrock").put_model_invocation_logging_configuration(
        loggingConfig={
            "s3Config": {"bucketName": BUCKET, "keyPrefix": PREFIX},
            "textDataDeliveryEnabled": True,
        }
    )
    page.goto(servers.app_url)
    page.get_by_text("No data yet").wait_for(timeout=120_000)
    settle(page)

    page.get_by_role("link", name="Integrations").click()
    _click(page, "Add Bedrock integration")
    _click(page, "Check logging configuration")
    page.get_by_text(f"delivering to S3 bucket {BUCKET} (prefix {PREFIX})").wait_for()
    _click(page, "Next")
    _click(page, "Next")  # the IAM check is optional

    _type(page, "Integration name", NAME)
    page.get_by_text("S3 bucket", exact=True).click()
    settle_after_change(page)
    _type(page, "Bucket", BUCKET)
    _type(page, "Prefix (what comes before AWSLogs/)", PREFIX)
    _click(page, "Save and continue")
    page.get_by_text("Log objects found in 1 account/region folder(s)").wait_for()
    page.get_by_text("A record parses").wait_for()

    settle(page)
    _button(page, "Run the first sync").click()
    page.get_by_text(re.compile("2,500 new invocations")).wait_for(timeout=120_000)
    assert page.get_by_text(f"{len(keys):,} objects fetched").is_visible()
    page.get_by_role("link", name=f"See the costs of {NAME}").click()
    page.get_by_text("Cost by model").wait_for(timeout=60_000)
    settle(page)
    assert _metric(page, "Invocations") == "2,500"

    # Bedrock delivers a new object in the current hour's folder; Sync now reads only it.
    fresh = make_records(
        40, start=now - timedelta(minutes=20), end=now - timedelta(minutes=5), seed=9
    )
    seed_bucket(_aws(servers, "s3"), fresh, BUCKET, f"{PREFIX}/", create=False)
    page.get_by_role("link", name="Integrations").click()
    _button(page, "Done").wait_for()  # the wizard waits where it was left
    _click(page, "Done")
    count, message = _sync_now(page, servers, NAME)
    assert count == 2540
    assert "40 new invocations" in message
    assert re.search(r"\b[12] objects fetched", message), message
