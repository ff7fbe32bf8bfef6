"""The setup flow in a real browser against moto_server with IAM enforcement on.

moto_server checks every request against the caller's IAM policies (``INITIAL_NO_AUTH_ACTION_
COUNT``): the dashboard signs in as an admin user and assumes the integration's role, so every
AWS call the wizard and the sync make is allowed or denied by that role's real policies.

* The classic role (reads allowed, ``Deny logs:GetLogEvents``) goes through the wizard to a
  first sync with the Deny kept; the user leaves for the Explorer right after starting it and
  the sync finishes anyway, with the same totals as a CLI sync.
* A stricter Deny (``GetLogEvents`` and ``FilterLogEvents``) gets an exemption; applied to moto
  it passes the re-check and ``GetLogEvents`` on another log group stays denied. The dashboard
  is then killed mid-sync; after a restart the integration is *Interrupted* and *Sync now*
  resumes to exact totals.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from bedrock_explorer.sources.cloudwatch.reader import RPS_ENV_VAR
from bedrock_explorer.store import Store
from tests.aws_seed import LOG_GROUP, Seeded, make_records, seed_log_group
from tests.e2e.conftest import ROOT, Servers, run_servers, settle
from tests.e2e.test_first_hour import _click, _type, start_role_wizard
from tests.iam_samples import CLASSIC

ACCOUNT = "123456789012"
ROLE = "NopsIntegrationRole"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
OTHER_GROUP = "/app/payments"
RUNNING = "The sync runs in the dashboard's background"
STRICT = {
    **CLASSIC,
    "Statement": [
        CLASSIC["Statement"][0],
        {**CLASSIC["Statement"][1], "Action": ["logs:GetLogEvents", "logs:FilterLogEvents"]},
    ],
}


def _client(url: str, service: str, keys: dict[str, str] | None = None) -> Any:
    keys = keys or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, **keys)


def _admin(url: str) -> dict[str, str]:
    """The three unauthenticated actions moto allows: an admin user and its access key."""
    iam = _client(url, "iam")
    iam.create_user(UserName="admin")
    iam.put_user_policy(
        UserName="admin",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


class Account:
    """What the seeding made: the admin keys and the records in the log group."""

    keys: dict[str, str]
    records: Seeded
    url: str


def _seed(
    policy: dict[str, Any], count: int, account: Account, app_env: dict[str, str] | None = None
) -> Any:
    def prepare(url: str) -> dict[str, str]:
        keys = _admin(url)
        now = datetime.now(UTC)
        records = make_records(
            count, start=now - timedelta(days=6), end=now - timedelta(minutes=10)
        )
        seed_log_group(_client(url, "logs", keys), records)
        _client(url, "logs", keys).create_log_group(logGroupName=OTHER_GROUP)
        iam = _client(url, "iam", keys)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=ROLE, PolicyName="NopsIntegrationPolicy", PolicyDocument=json.dumps(policy)
        )
        account.keys, account.records, account.url = keys, records, url
        return {
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
            **(app_env or {}),
        }

    return prepare


@pytest.fixture
def classic(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Servers, Account]]:
    account = Account()
    env = {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    for servers in run_servers(
        tmp_path, request, moto_env=env, prepare=_seed(CLASSIC, 400, account), demo=False
    ):
        yield servers, account


@pytest.fixture
def strict(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Servers, Account]]:
    account = Account()
    env = {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    # One FilterLogEvents request every two seconds (the setting that leaves quota to other tools):
    # the sync takes long enough to be killed in the middle.
    prepare = _seed(STRICT, 12_000, account, {RPS_ENV_VAR: "0.5"})
    for servers in run_servers(tmp_path, request, moto_env=env, prepare=prepare, demo=False):
        yield servers, account


def _wizard_to_permissions(pg: Any, servers: Servers) -> None:
    pg.goto(servers.app_url)
    pg.get_by_text("No data yet").wait_for(timeout=120_000)
    settle(pg)
    start_role_wizard(pg, ROLE_ARN)
    # the role may not read Bedrock's settings (optional): said, and the wizard goes on
    pg.get_by_text(re.compile("AWS denied access while reading Bedrock's logging")).wait_for()
    _click(pg, "Next")
    _type(pg, "Log group name", LOG_GROUP)
    _click(pg, "Check permissions")


def _save_and_verify(pg: Any, name: str) -> None:
    _click(pg, "Next")
    _type(pg, "Integration name", name)
    _type(pg, "Log group name", LOG_GROUP)
    _click(pg, "Save and continue")
    pg.get_by_text("A record parses").wait_for()


def _role_keys(account: Account) -> dict[str, str]:
    creds = _client(account.url, "sts", account.keys).assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="check"
    )["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def _totals(db: Path, name: str) -> dict[str, int]:
    with Store(db, wait_seconds=60) as store:
        integ = store.get_integration(name)
        count, tokens_in, tokens_out = store.con.execute(
            "SELECT count(*), sum(input_tokens), sum(output_tokens) FROM invocations "
            "WHERE integration_id = ?",
            [integ.id],
        ).fetchall()[0]
    return {"invocations": count, "input_tokens": int(tokens_in), "output_tokens": int(tokens_out)}


def test_the_classic_deny_is_kept_and_a_sync_survives_leaving_the_page(
    classic: tuple[Servers, Account], page: Any, tmp_path: Path
) -> None:
    servers, account = classic
    _wizard_to_permissions(page, servers)
    page.get_by_text("Everything Bedrock Explorer needs is allowed").wait_for()
    page.get_by_text(re.compile("does not do that on its own")).wait_for()
    _save_and_verify(page, "prod")

    settle(page)
    page.get_by_role("button", name="Run the first sync", exact=True).click()
    page.get_by_text(RUNNING).wait_for()  # the click has reached the dashboard: it runs
    page.get_by_role("link", name="Explorer").click()  # leave at once
    page.get_by_role("heading", name="Explorer").wait_for(timeout=60_000)
    settle(page)
    page.wait_for_timeout(1500)
    page.get_by_role("link", name="Integrations").click()
    # the wizard (kept in the session) shows the finished sync's result
    page.get_by_text(re.compile(r"prod: 400 events fetched .* 400 new invocations")).wait_for(
        timeout=120_000
    )
    _click(page, "Done")
    card = page.get_by_text(re.compile(r"Last successful sync .* 400 new invocations"))
    card.wait_for()
    assert "the last 2 minutes come with the next sync" in card.inner_text()
    dashboard = _totals(servers.db_path, "prod")
    assert dashboard == account.records.totals()
    # the same events synced by the CLI, as cron would, into another file: the same totals
    other = tmp_path / "cli.duckdb"
    cli = [sys.executable, "-m", "bedrock_explorer", "--db", str(other)]
    env = servers.env
    added = subprocess.run(
        [*cli, "integrations", "add", "prod", "--log-group", LOG_GROUP, "--region", "us-east-1",
         "--role-arn", ROLE_ARN, "--first-sync-days", "7"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    synced = subprocess.run(
        [*cli, "sync", "prod"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert synced.returncode == 0, synced.stderr
    assert _totals(other, "prod") == dashboard
    # and the Deny really is in force: the role still may not GetLogEvents
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        _client(account.url, "logs", _role_keys(account)).get_log_events(
            logGroupName=LOG_GROUP, logStreamName="aws/bedrock/modelinvocations"
        )


def test_an_exemption_applied_to_aws_passes_then_a_killed_sync_resumes(
    strict: tuple[Servers, Account], page: Any
) -> None:
    servers, account = strict
    _wizard_to_permissions(page, servers)
    page.get_by_text("Some required permissions are missing or denied").wait_for()
    page.get_by_text(re.compile("Exempt the Bedrock logs from the Deny")).wait_for()
    code = page.locator("[data-testid=stCode]").filter(has_text="ExceptBedrockLogs")
    rewritten = json.loads(code.inner_text())
    iam = _client(account.url, "iam", account.keys)
    iam.put_role_policy(
        RoleName=ROLE, PolicyName="NopsIntegrationPolicy", PolicyDocument=json.dumps(rewritten)
    )
    _click(page, "Check permissions")
    page.get_by_text("Everything Bedrock Explorer needs is allowed").wait_for()
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        _client(account.url, "logs", _role_keys(account)).get_log_events(
            logGroupName=OTHER_GROUP, logStreamName="any"
        )
    _save_and_verify(page, "prod")

    settle(page)
    page.get_by_role("button", name="Run the first sync", exact=True).click()
    page.get_by_text(RUNNING).wait_for()
    # A reload is a new session (the wizard is gone): the card shows the same live progress.
    page.reload()
    stored = page.get_by_text(re.compile(r"[1-9][\d,]* invocations stored"))
    stored.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"events read · .* events/s")).first.wait_for()
    servers.procs["app"].kill()  # the dashboard dies mid-sync
    servers.procs["app"].wait()
    servers.env[RPS_ENV_VAR] = "0"  # the resumed sync need not be slow: no cap after the restart
    servers.restart_app()
    page.goto(servers.app_url)
    page.get_by_role("link", name="Integrations").click()
    page.get_by_text("Interrupted", exact=True).wait_for(timeout=60_000)
    partial = _totals(servers.db_path, "prod")["invocations"]
    assert 0 < partial < 12_000, partial
    _click(page, "Sync now")
    page.get_by_text(re.compile(r"Last successful sync .* resumed")).wait_for(timeout=180_000)
    assert _totals(servers.db_path, "prod") == account.records.totals()
