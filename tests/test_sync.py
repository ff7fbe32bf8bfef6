"""CloudWatch Logs and S3 sync against moto in process: totals, increments, faults, errors.

Faults are injected on the botocore event system of the session the sync uses (``before-send``
returns an AWS error response), so the real retry and error paths run.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import botocore.awsrequest
import pytest
from botocore.stub import Stubber

from bedrock_explorer import aws, queries
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.sources.cloudwatch import reader as cloudwatch
from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
from bedrock_explorer.sources.s3 import reader as s3_source
from bedrock_explorer.sources.s3.settings import S3Settings
from bedrock_explorer.sources.settings import Auth, RemoteSettings
from bedrock_explorer.store import Store
from bedrock_explorer.sync import default_session, sync_integration
from tests.aws_seed import LOG_GROUP, Seeded, make_records, seed_bucket, seed_log_group
from tests.clock import NOW

BUCKET = "bedrock-logs-archive"


@pytest.fixture(autouse=True)
def _fast_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto has no quota: a higher request rate keeps these tests quick (the limiter still runs)."""
    monkeypatch.setattr(cloudwatch, "REQUESTS_PER_SECOND", 50.0)


def _totals(store: Store, name: str) -> dict[str, int]:
    integ = store.get_integration(name)
    count, distinct, tokens_in, tokens_out = store.con.execute(
        "SELECT count(*), count(DISTINCT request_id), sum(input_tokens), sum(output_tokens) "
        "FROM invocations WHERE integration_id = ?",
        [integ.id],
    ).fetchall()[0]
    assert count == distinct, "a request id is stored twice"
    return {
        "invocations": count,
        "input_tokens": int(tokens_in or 0),
        "output_tokens": int(tokens_out or 0),
    }


def _add_cw(store: Store, name: str = "prod", group: str = LOG_GROUP, **kw: Any) -> None:
    settings = CloudWatchSettings(region="us-east-1", log_group=group, **kw)
    store.add_integration(name, "cloudwatch", settings.to_config())


@pytest.fixture
def seeded(aws_env: None) -> Seeded:
    records = make_records(3000, start=NOW - timedelta(days=5), end=NOW - timedelta(minutes=5))
    seed_log_group(boto3.client("logs", region_name="us-east-1"), records)
    return records


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


def faulty_session(
    operation: str, code: str, when: Callable[[int], bool], status: int = 400
) -> Callable[[RemoteSettings], boto3.Session]:
    """A session factory whose clients answer ``operation`` with ``code`` when ``when(n)``."""
    calls = {"n": 0}

    def handler(request: Any, **_: Any) -> Any:
        calls["n"] += 1
        if not when(calls["n"]):
            return None
        body = (
            f"<Error><Code>{code}</Code><Message>injected {code}</Message></Error>".encode()
            if operation.startswith("s3.")  # S3 answers errors in XML
            else json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        )
        return botocore.awsrequest.AWSResponse(
            request.url, status, {"x-amzn-requestid": "injected"}, _Raw(body)
        )

    def factory(settings: RemoteSettings) -> boto3.Session:
        sess = default_session(settings)
        sess.events.register(f"before-send.{operation}", handler)
        return sess

    factory.calls = calls  # type: ignore[attr-defined]
    factory.handler = handler  # type: ignore[attr-defined]
    return factory


def test_first_cloudwatch_sync_stores_every_record_once(store: Store, seeded: Seeded) -> None:
    _add_cw(store, first_sync_days=7)
    summary = sync_integration(store, "prod", now=NOW)
    assert _totals(store, "prod") == seeded.totals()
    assert summary.inserted == 3000 and summary.fetched == 3000 and summary.quarantined == 0
    integ = store.get_integration("prod")
    assert integ.last_sync_status == "ok" and "3,000 new invocations" in integ.last_sync_message
    saved = store.checkpoints(integ.id)
    assert set(saved) == {cloudwatch.KEY_SYNCED_TO}, "run and slice positions are cleared"


def test_first_sync_reaches_back_only_as_far_as_asked(store: Store, seeded: Seeded) -> None:
    _add_cw(store, first_sync_days=2)
    sync_integration(store, "prod", now=NOW)
    expected = sum(1 for s in seeded.specs if s.ts >= NOW - timedelta(days=2))
    assert _totals(store, "prod")["invocations"] == expected < 3000


def test_next_sync_fetches_only_the_overlap_and_new_events(store: Store, seeded: Seeded) -> None:
    _add_cw(store, first_sync_days=7)
    sync_integration(store, "prod", now=NOW)
    later = NOW + timedelta(hours=1)
    fresh = make_records(150, start=NOW, end=later - timedelta(minutes=5), seed=99)
    seed_log_group(boto3.client("logs", region_name="us-east-1"), fresh, create=False)
    summary = sync_integration(store, "prod", now=later)
    assert summary.inserted == 150
    assert summary.fetched < 400, "only the last half hour of the old events is read again"
    both = seeded.totals()
    both = {k: v + fresh.totals()[k] for k, v in both.items()}
    assert _totals(store, "prod") == both


def test_since_rereads_history_without_duplicates(store: Store, seeded: Seeded) -> None:
    _add_cw(store, first_sync_days=7)
    sync_integration(store, "prod", now=NOW)
    summary = sync_integration(store, "prod", now=NOW, since=NOW - timedelta(days=6))
    assert summary.inserted == 0 and summary.duplicates == 3000
    assert _totals(store, "prod") == seeded.totals()


def test_throttling_on_a_share_of_calls_is_retried(store: Store, seeded: Seeded) -> None:
    _add_cw(store, first_sync_days=7)
    factory = faulty_session(
        "logs.FilterLogEvents", "ThrottlingException", lambda n: n % 4 == 1 and n < 20
    )
    sync_integration(store, "prod", now=NOW, session_factory=factory)
    assert factory.calls["n"] > 10  # type: ignore[attr-defined]
    assert _totals(store, "prod") == seeded.totals()


def test_expired_token_mid_sync_keeps_what_was_committed_then_resumes(
    store: Store, seeded: Seeded
) -> None:
    # The window is the seeded span (5 days), so every slice holds events: the four slices
    # fetched first return pages before the fifth call's worker meets the expired token.
    _add_cw(store, first_sync_days=5)
    factory = faulty_session("logs.FilterLogEvents", "ExpiredTokenException", lambda n: n >= 6)
    with pytest.raises(UserFacingError, match="expired") as caught:
        sync_integration(store, "prod", now=NOW, session_factory=factory, batch_lines=200)
    assert "aws sso login" in str(caught.value)
    integ = store.get_integration("prod")
    assert integ.last_sync_status == "error" and "expired" in integ.last_sync_message
    partial = _totals(store, "prod")["invocations"]
    assert 0 < partial < 3000, "the pages fetched before the failure are committed"
    assert queries.cost_totals(store)["unpriced_tokens"] == 0, "and priced"
    assert cloudwatch.KEY_RUN in store.checkpoints(integ.id)
    later = NOW + timedelta(minutes=20)
    fresh = make_records(40, start=NOW, end=later - timedelta(minutes=3), seed=5)
    seed_log_group(boto3.client("logs", region_name="us-east-1"), fresh, create=False)
    summary = sync_integration(store, "prod", now=later)
    assert summary.resumed
    both = {k: v + fresh.totals()[k] for k, v in seeded.totals().items()}
    assert _totals(store, "prod") == both, "the interrupted run is finished, then up to now"
    assert store.get_integration("prod").last_sync_status == "ok"


def test_access_denied_names_the_action_and_the_checker(store: Store, seeded: Seeded) -> None:
    _add_cw(store)
    factory = faulty_session("logs.FilterLogEvents", "AccessDeniedException", lambda n: True)
    with pytest.raises(UserFacingError) as caught:
        sync_integration(store, "prod", now=NOW, session_factory=factory)
    text = str(caught.value)
    assert "logs:FilterLogEvents" in text and "IAM Policy Checker" in text
    assert store.get_integration("prod").last_sync_status == "error"
    assert _totals(store, "prod")["invocations"] == 0


def test_a_mistyped_log_group_is_named_with_a_suggestion(store: Store, seeded: Seeded) -> None:
    _add_cw(store, group="/aws/bedrock/modelinvocation")
    with pytest.raises(UserFacingError) as caught:
        sync_integration(store, "prod", now=NOW)
    assert "no log group '/aws/bedrock/modelinvocation'" in str(caught.value)
    assert repr(LOG_GROUP) in str(caught.value)
    assert "There is no log group" in store.get_integration("prod").last_sync_message


def test_the_wrong_region_is_a_missing_log_group(store: Store, seeded: Seeded) -> None:
    settings = CloudWatchSettings(region="eu-west-1", log_group=LOG_GROUP)
    store.add_integration("eu", "cloudwatch", settings.to_config())
    with pytest.raises(UserFacingError, match=r"no log group .* in eu-west-1"):
        sync_integration(store, "eu", now=NOW)


def test_missing_credentials_explain_the_fix(
    store: Store, seeded: Seeded, no_aws_credentials: None
) -> None:
    _add_cw(store)
    with pytest.raises(UserFacingError, match="No AWS credentials") as caught:
        sync_integration(store, "prod", now=NOW)
    assert "aws configure" in str(caught.value)


def test_a_role_is_assumed_for_the_sync(store: Store, seeded: Seeded) -> None:
    auth = Auth("role", role_arn="arn:aws:iam::123456789012:role/BedrockExplorer", external_id="x1")
    _add_cw(store, auth=auth, first_sync_days=7)
    sync_integration(store, "prod", now=NOW)
    assert _totals(store, "prod") == seeded.totals()


def test_demo_integrations_are_not_synced(store: Store) -> None:
    store.add_integration("Demo", "demo", {}, is_demo=True)
    with pytest.raises(UserFacingError, match="demo data"):
        sync_integration(store, "Demo")


# -- pagination details AWS shows and moto does not ------------------------------------------


def _event(n: int) -> dict[str, Any]:
    return {
        "logStreamName": "s",
        "eventId": str(n),
        "timestamp": 1,
        "message": f'{{"requestId": "r{n}"}}',
    }


def _read_all(client: Any, window: cloudwatch.Window) -> list[str]:
    reader = cloudwatch.LogGroupReader(client, "g", requests_per_second=None, workers=1)
    lines: list[str] = []
    for batch in reader.batches(window, {}):
        lines.extend(batch.lines)  # type: ignore[arg-type]
    return lines


def test_an_empty_page_with_a_token_is_not_the_end() -> None:
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="a",
                          aws_secret_access_key="b")  # fmt: skip
    window = cloudwatch.Window(0, 3_600_000)  # one slice
    with Stubber(client) as stub:
        stub.add_response("filter_log_events", {"events": [_event(1)], "nextToken": "t1"})
        stub.add_response("filter_log_events", {"events": [], "nextToken": "t2"})
        stub.add_response("filter_log_events", {"events": [], "nextToken": "t3"})
        stub.add_response("filter_log_events", {"events": [_event(2), _event(3)]})
        assert len(_read_all(client, window)) == 3
        stub.assert_no_pending_responses()


def test_an_expired_next_token_restarts_its_slice() -> None:
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="a",
                          aws_secret_access_key="b")  # fmt: skip
    window = cloudwatch.Window(0, 3_600_000)
    reader = cloudwatch.LogGroupReader(client, "g", requests_per_second=None, workers=1)
    slice_key = cloudwatch.plan_slices(window)[0].key
    positions = {slice_key: cloudwatch.Position("old-token")}
    with Stubber(client) as stub:
        stub.add_client_error(
            "filter_log_events",
            "InvalidParameterException",
            "The specified nextToken is invalid.",
            expected_params={
                "logGroupName": "g",
                "startTime": 0,
                "endTime": 3_599_999,
                "limit": 10_000,
                "nextToken": "old-token",
            },
        )
        stub.add_response("filter_log_events", {"events": [_event(1)]})
        batches = list(reader.batches(window, positions))
    assert sum(len(b.lines) for b in batches) == 1
    assert json.loads(batches[-1].checkpoints[slice_key])["done"] is True


def test_slices_cover_the_window_exactly_and_are_reproducible() -> None:
    window = cloudwatch.Window(1_000, 1_000 + 10 * 86_400_000 + 17)
    slices = cloudwatch.plan_slices(window)
    assert slices[0].start_ms == window.start_ms and slices[-1].end_ms == window.end_ms
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(slices))
    assert slices == cloudwatch.plan_slices(window)
    assert len(cloudwatch.plan_slices(cloudwatch.Window(0, 600_000))) == 1


def test_window_resumes_an_interrupted_run_before_starting_a_new_one() -> None:
    run = cloudwatch.Window(5, 10).dumps()
    saved = {cloudwatch.KEY_RUN: run, cloudwatch.KEY_SYNCED_TO: "3"}
    window = cloudwatch.plan_window(saved, now=NOW, since=None, first_sync_days=30)
    assert (window.start_ms, window.end_ms, window.resumed) == (5, 10, True)
    fresh = cloudwatch.plan_window(
        {cloudwatch.KEY_SYNCED_TO: str(cloudwatch.to_ms(NOW))},
        now=NOW,
        since=None,
        first_sync_days=30,
    )
    assert fresh.start_ms == cloudwatch.to_ms(NOW - cloudwatch.OVERLAP)


# -- S3 ---------------------------------------------------------------------------------------


@pytest.fixture
def bucket_seeded(aws_env: None) -> tuple[Seeded, list[str]]:
    records = make_records(2000, start=NOW - timedelta(days=4), end=NOW - timedelta(minutes=5))
    keys = seed_bucket(boto3.client("s3", region_name="us-east-1"), records, BUCKET, "bedrock/")
    return records, keys


def _add_s3(store: Store, name: str = "archive", **kw: Any) -> None:
    settings = S3Settings(region="us-east-1", bucket=BUCKET, prefix="bedrock", **kw)
    store.add_integration(name, "s3", settings.to_config())


def test_s3_sync_reads_each_object_once(
    store: Store, bucket_seeded: tuple[Seeded, list[str]]
) -> None:
    seeded, keys = bucket_seeded
    _add_s3(store, first_sync_days=7)
    summary = sync_integration(store, "archive", now=NOW)
    assert summary.fetched == len(keys), "data/ bodies and the permission marker are skipped"
    assert _totals(store, "archive") == seeded.totals()
    again = sync_integration(store, "archive", now=NOW + timedelta(hours=1))
    assert again.fetched == 0 and again.inserted == 0


def test_s3_sync_client_keeps_a_connection_per_thread_and_backs_off_without_slowing_down(
    store: Store, bucket_seeded: tuple[Seeded, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore keeps 10 connections by default; with more fetch threads than that, the others
    would open and drop a connection (TLS handshake included, against real S3) per object. And
    a few SlowDown answers must not hold the rest of the sync to a few GETs a second, as
    adaptive retries do (see the SlowDown test)."""
    made: list[Any] = []
    real_client = aws.client

    def spy(*args: Any, **kwargs: Any) -> Any:
        made.append(real_client(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(aws, "client", spy)
    _add_s3(store, first_sync_days=7)
    sync_integration(store, "archive", now=NOW)
    (client,) = made
    assert client.meta.config.max_pool_connections >= s3_source.WORKERS > 10
    assert client.meta.config.retries["mode"] == "standard"


def test_s3_checkpoints_of_objects_the_next_sync_will_not_list_are_forgotten(
    store: Store, bucket_seeded: tuple[Seeded, list[str]]
) -> None:
    seeded, keys = bucket_seeded
    _add_s3(store, first_sync_days=7)
    sync_integration(store, "archive", now=NOW)
    integ = store.get_integration("archive")
    kept = store.checkpoints(integ.id, s3_source.OBJECT_PREFIX)
    cutoff = (NOW - timedelta(days=2)).strftime("%Y/%m/%d")
    assert 0 < len(kept) < len(keys)
    assert all(re.search(s3_source.DAY_FOLDER_PATTERN, k).group(1) >= cutoff for k in kept)
    # The next sync lists from a day back: nothing is fetched again.
    again = sync_integration(store, "archive", now=NOW + timedelta(hours=1))
    assert again.fetched == 0
    # That sync may have crossed midnight UTC (from 23:00 on) and forgotten one more day.
    kept = store.checkpoints(integ.id, s3_source.OBJECT_PREFIX)
    # Reaching further back re-reads the forgotten objects; requestIds keep totals exact.
    back = sync_integration(store, "archive", since=NOW - timedelta(days=8), now=NOW)
    assert back.fetched == len(keys) - len(kept) and back.inserted == 0
    assert _totals(store, "archive") == seeded.totals()


def test_s3_rewritten_object_is_read_again_without_duplicates(
    store: Store, bucket_seeded: tuple[Seeded, list[str]]
) -> None:
    seeded, keys = bucket_seeded
    _add_s3(store, first_sync_days=7)
    sync_integration(store, "archive", now=NOW)
    s3 = boto3.client("s3", region_name="us-east-1")
    body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=keys[-1])["Body"].read())
    s3.put_object(Bucket=BUCKET, Key=keys[-1], Body=gzip.compress(body + b"\n"))
    again = sync_integration(store, "archive", now=NOW + timedelta(minutes=10))
    assert again.fetched == 1 and again.inserted == 0 and again.duplicates > 0
    assert _totals(store, "archive") == seeded.totals()


def test_s3_truncated_object_keeps_its_good_lines_and_is_quarantined(
    store: Store, bucket_seeded: tuple[Seeded, list[str]]
) -> None:
    seeded, keys = bucket_seeded
    s3 = boto3.client("s3", region_name="us-east-1")
    whole = s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=keys[0], Body=whole[: len(whole) // 2])
    _add_s3(store, first_sync_days=7)
    summary = sync_integration(store, "archive", now=NOW)
    assert summary.quarantined >= 1
    reasons = store.quarantine_summary()["reason"].tolist()
    assert any("ends early" in r for r in reasons)
    stored = _totals(store, "archive")["invocations"]
    assert seeded.totals()["invocations"] - 500 < stored < seeded.totals()["invocations"]


def test_s3_missing_bucket_and_denied_access(
    store: Store, bucket_seeded: tuple[Seeded, list[str]]
) -> None:
    settings = S3Settings(region="us-east-1", bucket="no-such-bucket-x")
    store.add_integration("missing", "s3", settings.to_config())
    with pytest.raises(UserFacingError, match="no bucket 'no-such-bucket-x'"):
        sync_integration(store, "missing", now=NOW)
    _add_s3(store)
    factory = faulty_session("s3.GetObject", "AccessDenied", lambda n: True, status=403)
    with pytest.raises(UserFacingError) as caught:
        sync_integration(store, "archive", now=NOW, session_factory=factory)
    assert "s3:GetObject" in str(caught.value)
    assert store.get_integration("archive").last_sync_status == "error"


def test_s3_slow_down_on_a_share_of_gets_is_retried(
    store: Store, bucket_seeded: tuple[Seeded, list[str]]
) -> None:
    seeded, keys = bucket_seeded
    _add_s3(store, first_sync_days=7)
    factory = faulty_session("s3.GetObject", "SlowDown", lambda n: n in (3, 10, 11, 20), status=503)
    summary = sync_integration(store, "archive", now=NOW, session_factory=factory)
    assert factory.calls["n"] == len(keys) + 4  # type: ignore[attr-defined]
    assert summary.fetched == len(keys)
    assert _totals(store, "archive") == seeded.totals()
    assert store.get_integration("archive").last_sync_status == "ok"


def test_s3_expired_token_mid_sync_keeps_what_was_committed_then_resumes(
    store: Store, bucket_seeded: tuple[Seeded, list[str]]
) -> None:
    """16 GETs are in flight when the token expires: what was written stays, what was fetched
    but not yet written is dropped with its object unmarked, so the next sync fetches it."""
    seeded, keys = bucket_seeded
    _add_s3(store, first_sync_days=7)
    factory = faulty_session("s3.GetObject", "ExpiredToken", lambda n: n > 40)
    with pytest.raises(UserFacingError, match="expired") as caught:
        sync_integration(store, "archive", now=NOW, session_factory=factory)
    assert "aws sso login" in str(caught.value)
    integ = store.get_integration("archive")
    assert integ.last_sync_status == "error" and "expired" in integ.last_sync_message
    partial = _totals(store, "archive")["invocations"]
    assert 0 < partial < seeded.totals()["invocations"]
    assert queries.cost_totals(store)["unpriced_tokens"] == 0, "what was committed is priced"
    marked = len(store.checkpoints(integ.id, s3_source.OBJECT_PREFIX))
    assert 0 < marked <= 40
    summary = sync_integration(store, "archive", now=NOW + timedelta(minutes=10))
    assert summary.fetched == len(keys) - marked and summary.duplicates == 0
    assert _totals(store, "archive") == seeded.totals()
    assert store.get_integration("archive").last_sync_status == "ok"


def test_cloudwatch_and_s3_copies_of_the_same_logs_agree(store: Store, seeded: Seeded) -> None:
    seed_bucket(boto3.client("s3", region_name="us-east-1"), seeded, BUCKET, "bedrock/")
    _add_cw(store, first_sync_days=7)
    _add_s3(store, first_sync_days=7)
    sync_integration(store, "prod", now=NOW)
    sync_integration(store, "archive", now=NOW)
    assert _totals(store, "prod") == _totals(store, "archive") == seeded.totals()
