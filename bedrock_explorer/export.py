"""CSV exports of exactly what the Explorer shows: the grouped table and the detail rows.

Why formulas are neutralised: a CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is run as a formula by spreadsheet programs (CSV injection). Text cells that start
so — a session name or a metadata value is free text from the logs — get a leading apostrophe,
which spreadsheets show as text; so do cells where such a character follows leading spaces or
control characters, which some readers strip. Numbers are left alone (a negative number is a
number).

Why CRLF line ends (RFC 4180): the writer quotes a cell only when it holds a character of the
line end, so with ``\n`` alone a cell holding a bare CR went out unquoted, and every reader that
treats CR as a row break (Python's csv, pandas) saw a new row starting ``=1+1``. With ``\r\n``
any cell holding CR or LF is quoted.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TextIO

import numpy as np
import pandas as pd

from bedrock_explorer import explorer
from bedrock_explorer.explorer import Filters
from bedrock_explorer.store import Store

#: Floats other than costs (costs are written by :func:`cost_text`).
_FLOAT = "%.8f"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Stripped before looking for a formula start: what a reader may drop in front of a cell.
_LEADING = "".join(chr(c) for c in range(33)) + "\x7f"
#: Every CSV this module writes ends its rows so (see the module's docstring).
LINE_END = "\r\n"

#: Columns of the grouped export, in order, after the dimension columns.
GROUPED_COLUMNS = [
    "invocations",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "images",
    "cost",
    "price_status",
    "unpriced_tokens",
    "unpriced_images",
]


def cost_text(value: object) -> str:
    """A cost as a plain decimal with every digit it has (a spreadsheet reads 0.00000418, not
    always 4.18e-06; a fixed 8 decimals printed a tiny cost as 0.00000000), empty when unknown:
    an unpriced group has no cost, not a cost of 0."""
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return ""
    # 15 significant digits: every digit a double holds for sure (0.7999999999999999 is 0.8).
    return np.format_float_positional(float(f"{float(value):.15g}"), trim="-")  # type: ignore[arg-type]


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas."""
    out = frame.copy()
    for column in out.columns:
        kind = pd.api.types.infer_dtype(out[column], skipna=True)
        if kind in ("string", "mixed"):
            out[column] = out[column].map(_safe).astype(object)
    return out


def _safe(value: object) -> object:
    if isinstance(value, str) and (
        value.startswith(_FORMULA_START) or value.lstrip(_LEADING).startswith(_FORMULA_START)
    ):
        return "'" + value
    return value


def grouped_table(frame: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """The grouped figures as shown and exported: dimensions, counts, cost (USD) and unpriced."""
    columns = [c for c in ["bucket", *dims] if c in frame] + GROUPED_COLUMNS
    table = frame[columns].copy()
    if "bucket" in table:
        table = table.sort_values(["bucket", "cost"], ascending=[True, False], kind="stable")
        table["bucket"] = pd.to_datetime(table["bucket"]).dt.strftime("%Y-%m-%d %H:%M")
    for column in GROUPED_COLUMNS:
        if column not in ("cost", "price_status"):
            table[column] = table[column].astype("int64")
    return table.rename(columns={"bucket": "period", "cost": "cost_usd"})


_BUCKET_LABELS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}
TOTAL_COLUMN = "total_usd"


def pivot_table(frame: pd.DataFrame, dims: list[str], granularity: str) -> pd.DataFrame:
    """Cost with one column per time bucket and a total (Cost Explorer's table), from a grouped
    frame split by time (``explorer.grouped(..., time_bucket=True)``).

    A bucket without usage is 0; a bucket whose usage has no price is empty (unpriced, never
    $0); the total is what could be priced, like the grouped table's. Rows by total, largest
    first; columns in time order (a week is labelled by its first day)."""
    keys = list(dims) or ["selection"]
    data = frame.assign(selection="all") if not dims else frame.copy()
    data["period"] = pd.to_datetime(data["bucket"]).dt.strftime(_BUCKET_LABELS[granularity])
    groups = data.groupby([*keys, "period"], sort=True)
    used = groups["invocations"].sum().unstack("period", fill_value=0)
    # min_count: a group whose usage has no price sums to empty, not 0
    cost = groups["cost"].sum(min_count=1).unstack("period").reindex_like(used)
    total = cost.where(used > 0).sum(axis=1, min_count=1)  # empty when nothing is priced
    cost = cost.where(used > 0, 0.0)  # no usage: nothing to pay
    wide = cost.assign(**{TOTAL_COLUMN: total})
    wide = wide[[TOTAL_COLUMN, *cost.columns]].sort_values(TOTAL_COLUMN, ascending=False)
    wide.columns.name = None
    return wide.reset_index()


def pivot_csv(frame: pd.DataFrame, dims: list[str], granularity: str) -> str:
    """:func:`pivot_table` as CSV: costs as decimal text, empty when unpriced."""
    wide = pivot_table(frame, dims, granularity)
    for column in wide.columns[len(dims or ["selection"]) :]:
        wide[column] = wide[column].map(cost_text)
    buffer = io.StringIO()
    neutralise(wide).to_csv(buffer, index=False, lineterminator=LINE_END)
    return buffer.getvalue()


def _costs_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column.startswith("cost"):
            out[column] = out[column].map(cost_text)
    return out


def grouped_csv(frame: pd.DataFrame, dims: list[str]) -> str:
    buffer = io.StringIO()
    neutralise(_costs_as_text(grouped_table(frame, dims))).to_csv(
        buffer, index=False, float_format=_FLOAT, lineterminator=LINE_END
    )
    return buffer.getvalue()


def write_detail_csv(store: Store, filters: Filters, out: TextIO) -> int:
    """Stream every invocation of the selection as CSV; returns the number of rows."""
    rows = 0
    for text, count in detail_csv_chunks(store, filters):
        out.write(text)
        rows += count
    return rows


def detail_csv_chunks(store: Store, filters: Filters) -> Iterator[tuple[str, int]]:
    """The detail CSV as (text, rows) chunks, one per batch of rows; the header alone when the
    selection is empty."""
    first = True
    for batch in explorer.detail_batches(store, filters):
        buffer = io.StringIO()
        neutralise(_costs_as_text(batch)).to_csv(
            buffer, index=False, header=first, float_format=_FLOAT, lineterminator=LINE_END
        )
        first = False
        yield buffer.getvalue(), len(batch)
    if first:
        header = explorer.detail_page(store, filters, size=0).columns
        yield ",".join(header) + LINE_END, 0


def file_name(kind: str, filters: Filters, dims: list[str] | None = None) -> str:
    """``bedrock-cost_<by>_<range and filters>.csv``: the file says what it holds."""
    by = f"by-{'-'.join(d.replace(' ', '-') for d in dims)}_" if dims else ""
    return f"bedrock-{kind}_{by}{filters.describe()}.csv"
