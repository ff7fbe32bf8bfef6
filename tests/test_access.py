"""Sign-in and roles: the allow-list, the viewer/admin split, and the server-side refusal.

The dashboard side runs under AppTest with an ``[auth]`` section and a signed-in ``st.user``; the
real OIDC round trip in Chromium is ``tests/e2e/test_sign_in.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from bedrock_explorer import audit, demo
from bedrock_explorer.access import (
    AccessConfigError,
    AccessRules,
    NotAllowedError,
    Role,
    identity_of,
    sign_in_providers,
)
from bedrock_explorer.audit import Actor
from bedrock_explorer.pricing import price_list
from bedrock_explorer.store import Store
from bedrock_explorer.sync_jobs import SyncJobs
from tests.conftest import PUBLIC_RECORDS
from tests.test_audit import ACTIONS

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
LOCAL = {"paths": [str(PUBLIC_RECORDS)]}
VIEWER = Actor("vera@example.com", "dashboard", Role.VIEWER)
RULES = AccessRules.from_settings(
    {
        "admins": ["Alice@Example.com"],
        "viewers": ["@example.com", "partner.org"],
        "role_claim": "groups",
        "admin_values": ["finops-admins"],
        "viewer_values": ["finops"],
    }
)


# -- the allow-list -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"email": "alice@example.com"}, Role.ADMIN),  # listed address (case-insensitive)
        ({"email": "ALICE@example.com"}, Role.ADMIN),
        ({"email": "bob@example.com"}, Role.VIEWER),  # by domain "@example.com"
        ({"email": "carol@partner.org"}, Role.VIEWER),  # by domain "partner.org"
        ({"email": "mallory@evil-example.com"}, None),  # a look-alike ending is not the domain
        ({"email": "dave@eu.example.com"}, None),  # nor is a subdomain
        ({"email": "eve@example.com.attacker.io"}, None),
        ({"email": "x@other.com", "groups": ["finops-admins"]}, Role.ADMIN),  # by claim
        ({"email": "x@other.com", "groups": "finops other"}, Role.VIEWER),  # claim as a string
        ({"email": "x@other.com", "groups": ["finops-admin"]}, None),  # near miss
        ({"email": "bob@example.com", "groups": ["finops-admins"]}, Role.ADMIN),  # highest wins
        ({"sub": "no-email", "groups": ["finops"]}, Role.VIEWER),
        ({"sub": "no-email"}, None),
    ],
)
def test_the_allow_list_maps_addresses_domains_and_claims_to_roles(
    claims: dict[str, Any], role: Role | None
) -> None:
    assert RULES.decide(claims).role == role


def test_an_unverified_email_is_not_matched() -> None:
    decision = RULES.decide({"email": "alice@example.com", "email_verified": False})
    assert decision.role is None and "not verified" in decision.reason
    assert RULES.decide({"email": "alice@example.com", "email_verified": True}).role == Role.ADMIN


def test_a_star_lets_in_anyone_the_provider_signs_in_and_no_rules_let_in_no_one() -> None:
    assert AccessRules.from_settings({"viewers": "*"}).decide({"sub": "x"}).role == Role.VIEWER
    refused = AccessRules.from_settings({}).decide({"email": "alice@example.com"})
    assert refused.role is None and "no one is allowed in yet" in refused.reason


def test_a_refusal_names_the_user_and_the_fix() -> None:
    decision = RULES.decide({"email": "mallory@evil-example.com"})
    assert decision.identity == "mallory@evil-example.com"
    assert "not on this dashboard's allow-list" in decision.reason and "[access]" in decision.reason


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"admin": ["a@b.c"]}, "Unknown setting(s) in [access]"),
        ({"admins": [1, 2]}, "must be a list of strings"),
        ({"admins": {"a": 1}}, "must be a list of strings"),
        ({"admin_values": ["x"]}, "need role_claim"),
        ({"role_claim": "  "}, "must be the name of an ID-token claim"),
    ],
)
def test_a_broken_access_section_is_an_error_with_the_fix(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(AccessConfigError, match=re.escape(message)):
        AccessRules.from_settings(section)


def test_identity_and_providers() -> None:
    assert identity_of({"email": " Bob@Example.com ", "sub": "1"}) == "bob@example.com"
    assert identity_of({"preferred_username": "bob", "sub": "1"}) == "bob"
    assert identity_of({"sub": "1"}) == "1"
    assert sign_in_providers({}) == []
    assert sign_in_providers({"redirect_uri": "x", "cookie_secret": "y"}) == []
    assert sign_in_providers({"client_id": "a", "client_kwargs": {"prompt": "login"}}) == [None]
    two = {"redirect_uri": "x", "okta": {"client_id": "a"}, "entra": {"client_id": "b"}}
    assert sign_in_providers(two) == ["entra", "okta"]


# -- the server-side check ----------------------------------------------------------------------
def _state(store: Store) -> tuple[Any, ...]:
    """Everything a refused action could have changed."""
    return (
        [(i.name, i.config, i.sync_every_minutes) for i in store.list_integrations()],
        store.con.execute("SELECT count(*) FROM rates").fetchall(),
        store.con.execute("SELECT count(*) FROM invocations").fetchall(),
        store.con.execute("SELECT count(*) FROM audit_log").fetchall(),
    )


@pytest.mark.parametrize(("name", "act", "action", "target"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_a_viewer_is_refused_every_change_in_the_code_path(
    store: Store, name: str, act: Callable[[Store], object], action: str, target: str
) -> None:
    store.actor = Actor("setup", "cli")
    store.add_integration("prod", "local", LOCAL)
    before = _state(store)
    store.actor = VIEWER
    with pytest.raises(NotAllowedError, match=re.escape(f"Only an admin may do this ({action})")):
        act(store)
    assert _state(store) == before  # nothing changed, and nothing was recorded as done


def test_a_viewer_cannot_remove_demo_data_refresh_prices_or_start_a_background_sync(
    store: Store, db_path: Path
) -> None:
    demo.load_demo(store, end=date(2026, 3, 31), days=2)
    store.add_integration("prod", "local", LOCAL)
    before = _state(store)
    store.actor = VIEWER
    with pytest.raises(NotAllowedError):
        demo.remove_demo(store)
    with pytest.raises(NotAllowedError):
        price_list.refresh(store, client=None)  # refused before the client is ever used
    with pytest.raises(NotAllowedError):
        price_list.refresh_from_aws(store)
    assert _state(store) == before
    store.close()
    jobs = SyncJobs(lambda: Store(db_path))
    with pytest.raises(NotAllowedError):
        jobs.start("prod", actor=VIEWER)
    assert jobs.get("prod") is None  # no thread, no job


# -- the dashboard --------------------------------------------------------------------------------
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-long-random-string-for-the-tests-only-0123456789",
    "client_id": "bedrock-explorer",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ACCESS = {"admins": ["alice@example.com"], "viewers": ["@example.com"]}


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with one CloudWatch integration and no demo data to load by itself (the
    page is only drawn: nothing here calls AWS)."""
    path = tmp_path / "team.duckdb"
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(path))
    with Store(path) as store:
        config = {"region": "us-east-1", "log_group": "/aws/bedrock/modelinvocations"}
        store.add_integration("team-logs", "cloudwatch", config)
        store.set_setting(demo.DEMO_DECLINED_SETTING, "true")
    return path


def _dashboard(user: dict[str, Any] | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["auth"] = AUTH
    at.secrets["access"] = ACCESS
    at.user = {"is_logged_in": False} if user is None else {"is_logged_in": True, **user}
    if page:
        at.switch_page(page)
    return at.run()


def _trail(path: Path) -> Any:
    """The audit trail, read through the dashboard's own connection (this process holds it)."""
    from pages._common import shared_store

    with shared_store(str(path)).session() as store:
        return audit.trail(store.con)


def _labels(at: AppTest) -> set[str]:
    return {b.label for b in at.button} | {s.label for s in at.selectbox}


CHANGES = {"Sync now", "Test connection", "Edit", "Delete", "Add Bedrock integration"}


def test_without_sign_in_the_single_local_user_is_an_admin(seeded: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/integrations.py")
    at.run()
    assert not at.exception
    assert CHANGES | {"Sync schedule"} <= _labels(at)


def test_a_signed_out_visitor_sees_only_the_sign_in_button(seeded: Path) -> None:
    at = _dashboard(None)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe  # no spend, no account ids


def test_a_viewer_sees_the_data_but_no_control_that_changes_it(seeded: Path) -> None:
    at = _dashboard({"email": "vera@example.com"}, "pages/integrations.py")
    assert not at.exception
    assert "team-logs" in "\n".join(m.value for m in at.markdown)
    assert not (CHANGES | {"Sync schedule", "Load demo data"}) & _labels(at), _labels(at)
    at = _dashboard({"email": "vera@example.com"})  # the Explorer: the data, no changes
    assert not at.exception and not {"Load demo data"} & _labels(at)
    signed_in = [m.value.replace("\\", "").replace("\u2060", "") for m in at.sidebar.markdown]
    assert "Signed in as **vera@example.com** (viewer)" in signed_in, signed_in
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    # the IAM checker (it reads roles from AWS) is not in a viewer's navigation, and the page
    # itself refuses a viewer who reaches it anyway
    at = _dashboard({"email": "vera@example.com"}, "pages/iam_checker.py")
    assert not at.exception and not any(r.label == "Where the logs are" for r in at.radio)
    page = AppTest.from_file(str(Path(APP).parent / "pages" / "iam_checker.py"))
    page.secrets["auth"], page.secrets["access"] = AUTH, ACCESS
    page.user = {"is_logged_in": True, "email": "vera@example.com"}
    page.run()  # the page file run on its own: it refuses the viewer itself
    assert not any(r.label == "Where the logs are" for r in page.radio)
    assert any("The IAM Policy Checker is for admins" in i.value for i in page.info)


def test_an_admin_sees_every_control_and_signing_in_is_recorded_once(seeded: Path) -> None:
    at = _dashboard({"email": "alice@example.com"}, "pages/integrations.py")
    assert not at.exception
    assert CHANGES | {"Sync schedule"} <= _labels(at)
    signed_in = ("alice@example.com", audit.SIGNED_IN, "admin")
    rows = [(r.actor, r.action, r.detail) for r in _trail(seeded).itertuples()]
    assert rows.count(signed_in) == 1, rows
    at.run()  # a rerun of the same browser session is not a second sign-in
    rows = [(r.actor, r.action, r.detail) for r in _trail(seeded).itertuples()]
    assert rows.count(signed_in) == 1, rows


def test_someone_outside_the_allow_list_is_refused_with_the_reason(seeded: Path) -> None:
    at = _dashboard({"email": "mallory@evil-example.com"})
    assert not at.exception
    shown = "\n".join(e.value for e in at.error).replace("\\", "").replace("\u2060", "")
    assert "mallory@evil-example.com is not on this dashboard's allow-list" in shown
    assert [b.label for b in at.button] == ["Sign out"]
    assert not at.metric and not any("team-logs" in m.value for m in at.markdown)
    actions = [(r.actor, r.action) for r in _trail(seeded).itertuples()]
    assert ("mallory@evil-example.com", audit.SIGN_IN_REFUSED) in actions


def test_a_broken_access_section_lets_no_one_in(seeded: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["auth"] = AUTH
    at.secrets["access"] = {"admin": ["alice@example.com"]}  # typo: "admin"
    at.user = {"is_logged_in": True, "email": "alice@example.com"}
    at.run()
    shown = "\n".join(e.value for e in at.error).replace("\\", "")
    assert "Unknown setting(s) in [access] of secrets.toml: admin" in shown, shown
    assert not at.metric
