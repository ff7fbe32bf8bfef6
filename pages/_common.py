"""What every page shares: the database for one rerun, the sidebar, the IAM report.

The process keeps one connection, shared by every session through its own cursor and let go
when idle so that a cron ``sync`` can take the file between clicks (see
``bedrock_explorer/store/shared.py``). If another process keeps the file, the page says so
instead of showing a lock error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from bedrock_explorer import audit, queries
from bedrock_explorer.access import AccessRules, Decision, Role, sign_in_providers
from bedrock_explorer.audit import Actor, os_actor
from bedrock_explorer.config import is_loopback, resolve_db_path
from bedrock_explorer.display import md
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.checker import Need, Report, policy_json
from bedrock_explorer.iam.evaluator import Verdict
from bedrock_explorer.store import SharedStore, Store
from bedrock_explorer.sync_jobs import SyncJobs
from bedrock_explorer.sync_schedule import Scheduler, freshness


def through_the_app() -> None:
    """Make sure this page runs inside ``streamlit_app.py`` (its navigation, wide layout and
    sign-in gate), also for a bookmark opened first on a fresh server.

    Why: until some session has run ``st.navigation``, Streamlit treats a ``pages/`` folder the
    old way and runs a page file named by the URL on its own, skipping the entry script: the
    raw file list as navigation, ``/common`` as a page, and no sign-in gate. Every page calls
    this first; it switches Streamlit to the app's navigation and runs again, so the entry
    script resolves the same URL to the same page. Only a session's first run is run again
    (a server is in that mode for its first run only), so no click is ever swallowed.
    """
    first_run = not st.session_state.get("be_session_seen")
    st.session_state["be_session_seen"] = True
    if PagesManager.uses_pages_directory and first_run:
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource(show_spinner=False)
def shared_store(path: str) -> SharedStore:
    """The process-wide database connection for a file (one per database path)."""
    return SharedStore(path)


@st.cache_resource(show_spinner=False)
def sync_jobs(path: str) -> SyncJobs:
    """The process's background syncs for a database file (they outlive every script run)."""
    return SyncJobs(lambda: shared_store(path).session(wait_seconds=30))


@st.cache_resource(show_spinner=False)
def sync_scheduler(path: str) -> Scheduler:
    """The process's in-app sync schedule, started once (a daemon thread)."""
    return Scheduler(
        lambda: shared_store(path).session(wait_seconds=5),
        sync_jobs(path),
        ready=Path(path).exists,
    ).start()


def jobs() -> SyncJobs:
    """This dashboard's background syncs; makes sure the schedule is running too."""
    path = str(resolve_db_path())
    sync_scheduler(path)
    return sync_jobs(path)


def _secrets(section: str) -> dict[str, object]:
    """A section of ``.streamlit/secrets.toml`` as a plain dict (empty without the file)."""
    if not st.secrets.load_if_toml_exists():
        return {}
    value = st.secrets.to_dict().get(section)
    return dict(value) if isinstance(value, dict) else {}


def sign_in_on() -> bool:
    """Sign-in is on when an identity provider is configured under ``[auth]`` in secrets.toml."""
    return bool(sign_in_providers(_secrets("auth")))


def decision() -> Decision | None:
    """The signed-in user's role, or why they are refused; ``None`` when nobody is signed in."""
    if not st.user.is_logged_in:
        return None
    return AccessRules.from_settings(_secrets("access")).decide(st.user.to_dict())


def current_actor() -> Actor | None:
    """Who this session is: the OS user (an admin) without sign-in, the signed-in user with
    their role, or ``None`` (not signed in, or not on the allow-list)."""
    if not sign_in_on():
        return os_actor("dashboard")
    found = decision()
    if found is None or found.role is None:
        return None
    return Actor(found.identity, "dashboard", found.role)


def actor() -> Actor:
    """Who this session's changes are recorded as; stops the page for someone not let in (the
    gate in ``streamlit_app.py`` has said why)."""
    who = current_actor()
    if who is None:
        st.stop()
    assert who is not None
    return who


def is_admin() -> bool:
    """Whether controls that change state or touch AWS are shown (the code paths behind them
    check again: ``access.require_admin``)."""
    return actor().role is Role.ADMIN


def admin_only(what: str) -> None:
    """Stop a page (or a part of one) a viewer may not use, saying so."""
    if not is_admin():
        st.info(
            f"{what} is for admins of this dashboard: you are signed in as a viewer. "
            "Ask an admin, or to be made one.",
            icon=":material/lock:",
        )
        st.stop()


def _record_once(key: str, action: str, who: Actor) -> None:
    """One audit row per browser session for a sign-in (or a refusal), not one per rerun."""
    if st.session_state.get(key):
        return
    st.session_state[key] = True
    with shared_store(str(resolve_db_path())).session(wait_seconds=10) as store:
        store.actor = who
        store.audit(action, who.name, str(who.role) if action == audit.SIGNED_IN else None)


def sign_in_gate() -> Actor:
    """Before any page: without sign-in configured, the OS user; with it, the sign-in screen,
    the refusal for someone not on the allow-list, or the signed-in user. Stops the script for
    anyone not let in."""
    if not sign_in_on():
        return os_actor("dashboard")
    if not st.user.is_logged_in:
        st.title("Bedrock Explorer")
        st.markdown("Sign in with your company account to see this dashboard.")
        for provider in sign_in_providers(_secrets("auth")):
            label = "Sign in" if provider is None else f"Sign in with {provider.title()}"
            if st.button(label, type="primary", icon=":material/login:", key=f"login_{provider}"):
                st.login(provider)
        st.stop()
    try:
        found = decision()
    except UserFacingError as err:  # a broken [access] section: say so, let no one in
        st.error(md(err), icon=":material/settings:")
        st.stop()
    assert found is not None
    if found.role is None:
        _record_once(
            "be_refusal_recorded",
            audit.SIGN_IN_REFUSED,
            Actor(found.identity, "dashboard", Role.VIEWER),
        )
        st.title("Bedrock Explorer")
        st.error(md(found.reason), icon=":material/block:")
        if st.button("Sign out", icon=":material/logout:"):
            st.logout()
        st.stop()
    who = Actor(found.identity, "dashboard", found.role)
    _record_once("be_sign_in_recorded", audit.SIGNED_IN, who)
    return who


def signed_in_box(who: Actor) -> None:
    """The signed-in user (as the gate let them in) and Sign out, in the sidebar; nothing
    without sign-in."""
    if not sign_in_on():
        return
    with st.sidebar:
        st.markdown(f"Signed in as **{md(who.name)}** ({who.role})")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            st.logout()


@contextmanager
def open_store() -> Iterator[Store]:
    """The database for this rerun; stops the page with a readable message if it cannot open."""
    try:
        with shared_store(str(resolve_db_path())).session(wait_seconds=10) as store:
            store.actor = actor()
            yield store
    except UserFacingError as err:
        st.error(md(err), icon=":material/lock:")
        st.stop()


def freshness_header(store: Store, names: tuple[str, ...]) -> None:
    """How fresh the selected integrations' data is; a stale or failing one is flagged with
    the fix (the Explorer's header)."""
    now = datetime.now(UTC)
    chosen = [i for i in store.list_integrations() if not names or i.name in names]
    states = [freshness(i, now) for i in chosen]
    calm = [f.sentence for f in states if not f.flagged]
    if calm:
        st.caption(md(" · ".join(calm)))
    for f in states:
        if f.flagged:
            fix = (
                "open Integrations to see the error and its fix, then Sync now"
                if f.state == "failing"
                else "Sync now on the Integrations page, or give it a sync schedule"
            )
            st.warning(md(f"{f.sentence} — {fix}."), icon=":material/update:")


def sidebar(store: Store) -> None:
    """Database, data freshness and the demo-data notice, the same on every page."""
    totals = queries.store_summary(store)
    sync_scheduler(str(store.path))  # the in-app schedule runs whatever page is open
    demo = [i for i in store.list_integrations() if i.is_demo]
    with st.sidebar:
        if demo:
            st.warning(
                "You are looking at **demo data** (made-up accounts and usage). "
                "Remove it on the Integrations page once your own logs are in.",
                icon=":material/science:",
            )
        address = st.get_option("server.address")
        if not is_loopback(address) and not sign_in_on():
            st.error(
                f"This dashboard listens on **{md(address or 'every network interface')}** "
                "without sign-in: anyone who can reach this machine can see the spend and start "
                'syncs with its AWS credentials. Set `address = "127.0.0.1"` under `[server]` '
                "in `.streamlit/config.toml` (the default), or put it behind a sign-in.",
                icon=":material/public:",
            )
        st.caption(f"Database: {md(store.path)}")
        for warning in store.warnings:
            st.warning(md(warning), icon=":material/lock_open:")
        if totals["last_ts"] is not None:
            st.caption(f"Newest invocation: {totals['last_ts']:%Y-%m-%d %H:%M} UTC")
        st.caption(
            f"{totals['invocations']:,} invocations · {totals['integrations']} integrations · "
            f"{totals['quarantined']} quarantined lines"
        )


def compact(number: float) -> str:
    """128112345 → ``128.1M``: big counts that fit a metric tile (the exact value goes in help)."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            return f"{number / size:.1f}{suffix}"
    return f"{number:,.0f}"


# Plain symbols, not emoji: they render in every font.
ICONS = {
    Verdict.ALLOWED: "✔",
    Verdict.DENIED: "✖",
    Verdict.NOT_ALLOWED: "✖",
    Verdict.CONDITIONAL: "⚠",
}


def show_iam_report(result: Report, simulated: bool | None) -> None:
    """Verdicts, deny exemptions and the fix policy (the IAM page and the wizard's step 2)."""
    if result.ok:
        st.success("Everything Bedrock Explorer needs is allowed.", icon=":material/verified:")
    else:
        st.error(
            "Some required permissions are missing or denied — the fix is below.",
            icon=":material/block:",
        )
    rows = []
    for c in result.checks:
        row = {
            "": ICONS[c.decision.verdict] if c.requirement.need != Need.NOT_NEEDED else "–",
            "need": str(c.requirement.need),
            "action": c.requirement.action,
            "verdict": str(c.decision.verdict),
            "why": c.decision.reason,
            "used for": c.requirement.purpose,
        }
        if simulated:
            row["IAM simulator"] = str(c.simulated) + (" ≠ ours" if c.disagrees else "")
        rows.append(row)
    st.dataframe(rows, hide_index=True, width="stretch")
    if simulated is False:
        st.caption(
            "IAM's policy simulator could not be used with these credentials "
            "(iam:SimulatePrincipalPolicy): the verdicts above are ours alone."
        )
    for note in result.notes:
        st.info(md(note), icon=":material/shield:")
    for rewrite in result.deny_rewrites:
        st.subheader(f"Exempt the Bedrock logs from the Deny “{md(rewrite['statement'])}”")
        st.markdown(
            md(
                f"In {rewrite['policy']}, it blocks {', '.join(rewrite['blocks'])}. "
                f"{rewrite['note']}"
            )
        )
        if rewrite["still_denies"]:
            st.markdown(md(rewrite["still_denies"]))
        if rewrite["policy_document"] is not None:
            text = policy_json(rewrite["policy_document"])
            st.caption(
                f"Replace the policy {md(rewrite['policy'])} with this (checked: the reads pass, "
                "the Deny still holds elsewhere):"
            )
            st.code(text, language="json")
            st.download_button(
                f"Download {rewrite['policy']} with the exemption",
                text,
                file_name=f"{rewrite['policy']}-with-exemption.json",
                mime="application/json",
                icon=":material/download:",
                key=f"exemption_{rewrite['policy']}_{rewrite['statement']}",
            )
    if result.fix_policy:
        st.subheader("Policy to attach to the role")
        text = policy_json(result.fix_policy)
        st.code(text, language="json")
        st.download_button(
            "Download policy JSON",
            text,
            file_name="bedrock-explorer-read.json",
            mime="application/json",
            icon=":material/download:",
        )


if __name__ == "__main__":  # ``/common`` opened as a page (see through_the_app): not a page
    through_the_app()
    st.switch_page("pages/explorer.py")
