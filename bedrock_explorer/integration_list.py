"""The integrations as the Integrations page and ``integrations list`` show them.

Why shared: the dashboard and the CLI must use the same words for a status (Active, Syncing, Error,
Never synced) and the same description of a source.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bedrock_explorer import queries
from bedrock_explorer.sources import registry
from bedrock_explorer.store import Store


def source_label(kind: str, config: dict[str, Any]) -> str:
    if kind == "demo":
        return "demo data"
    return registry.settings_from_config(kind, config).describe()


def integrations_frame(store: Store) -> pd.DataFrame:
    """The integrations with status, source, volume and last sync (list and dashboard)."""
    stats = queries.integration_stats(store)
    by_name = {i.name: i for i in store.list_integrations()}
    stats.insert(
        2,
        "source",
        [source_label(by_name[n].kind, by_name[n].config) for n in stats["integration"]],
    )
    stats.insert(1, "status", [status_label(by_name[n]) for n in stats["integration"]])
    return stats


def status_label(integ: Any) -> str:
    """Active, Syncing, Interrupted, Error or Never synced — the words of the Integrations page.

    *Interrupted*: marked running, but the process that ran the sync is gone (killed, or the
    machine restarted); what it committed is kept and the next sync resumes from there.
    """
    if integ.is_demo:
        return "Demo data"
    if integ.sync_process_gone:
        return "Interrupted"
    return {"ok": "Active", "running": "Syncing", "error": "Error"}.get(
        integ.last_sync_status or "", "Never synced"
    )
