"""What every page shares: the database for one rerun, the sidebar, the IAM report.

The process keeps one connection, shared by every session through its own cursor and let go
when idle so that a cron ``sync`` can take the file between clicks (see
``bedrock_explorer/store/shared.py``). If another process keeps the file, the page says so
instead of showing a lock error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from bedrock_explorer import queries
from bedrock_explorer.config import resolve_db_path
from bedrock_explorer.display import md
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.checker import Report, policy_json
from bedrock_explorer.iam.evaluator import Verdict
from bedrock_explorer.store import SharedStore, Store


@st.cache_resource(show_spinner=False)
def shared_store(path: str) -> SharedStore:
    """The process-wide database connection for a file (one per database path)."""
    return SharedStore(path)


@contextmanager
def open_store() -> Iterator[Store]:
    """The database for this rerun; stops the page with a readable message if it cannot open."""
    try:
        with shared_store(str(resolve_db_path())).session(wait_seconds=10) as store:
            yield store
    except UserFacingError as err:
        st.error(md(err), icon=":material/lock:")
        st.stop()


def sidebar(store: Store) -> dict[str, object]:
    """Database, data freshness and the demo-data notice, the same on every page.

    Returns the headline figures it computed, for a page that shows them too.
    """
    totals = queries.overview_totals(store)
    demo = [i for i in store.list_integrations() if i.is_demo]
    with st.sidebar:
        if demo:
            st.warning(
                "You are looking at **demo data** (made-up accounts and usage). "
                "Remove it on the Integrations page once your own logs are in.",
                icon=":material/science:",
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
    return totals


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
    """Verdicts, deny rewrites and the fix policy (the IAM page and the wizard's step 2)."""
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
            "": ICONS[c.decision.verdict],
            "required": "optional" if c.requirement.optional else "required",
            "action": c.requirement.action,
            "verdict": str(c.decision.verdict),
            "why": c.decision.reason,
            "needed for": c.requirement.purpose,
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
    for rewrite in result.deny_rewrites:
        st.subheader(f"Fix the Deny “{md(rewrite['statement'])}” in {md(rewrite['policy'])}")
        st.markdown(md(f"It blocks {', '.join(rewrite['blocks'])}. {rewrite['note']}"))
        if rewrite["rewritten"] is not None:
            st.code(policy_json(rewrite["rewritten"]), language="json")
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
