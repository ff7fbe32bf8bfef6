"""Output helpers shared by the CLI's commands: progress bars, JSON, tables.

Why their own module: the command modules (``cli``, ``cli_sources``) print the same way, so a
script parsing ``--json`` or a cron mail reading a table sees one style.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Any, cast

import pandas as pd
from tqdm import tqdm

from bedrock_explorer.display import money
from bedrock_explorer.ingest import Progress


class Bar:
    """Turns progress callbacks into a tqdm bar on stderr (silent when stderr is not a TTY)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.message = ""

    def __call__(self, event: Progress) -> None:
        if not self.enabled:
            return
        if self.bar is None or event.message != self.message:
            self.close()
            self.message = event.message
            self.bar = tqdm(
                total=event.total,
                desc=event.message,
                unit=event.unit or "it",
                unit_scale=True,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )
        self.bar.n = event.done
        if event.detail:
            self.bar.set_postfix_str(event.detail, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def json_default(value: object) -> object:
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if pd.isna(cast(Any, value)):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    print(json.dumps(data, default=json_default, indent=2))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            str(k): (None if (not isinstance(v, (list, dict)) and pd.isna(v)) else v)
            for k, v in row.items()
        }
        for row in frame.to_dict(orient="records")
    ]


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Costs as a person reads them: sub-cent figures with their digits, an empty one as
    ``unpriced`` (pandas would print ``0.000000`` and ``NaN``)."""
    out = frame.copy()
    for column in out.columns:
        if column.startswith("cost") and pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(money)
    return out


def print_table(frame: pd.DataFrame, empty: str) -> None:
    if frame.empty:
        print(empty)
    else:
        print(readable(frame).to_string(index=False))


def emit(frame: pd.DataFrame, as_json: bool, empty: str) -> int:
    """A listing as JSON for scripts, else as a table (or ``empty`` when there is nothing)."""
    if as_json:
        print_json(records(frame))
    else:
        print_table(frame, empty)
    return 0
