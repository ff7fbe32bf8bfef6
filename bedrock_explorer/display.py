"""Stored strings made safe to show: as Markdown text, and as Plotly chart text.

Why: names, paths, model ids and tag values come from users and from the logs. Streamlit renders
Markdown in most elements (an integration named ``![x](http://host/beacon.png)`` made every
visitor's browser fetch that image; ``[re-login](http://host/phish)`` became a link) and Plotly
renders its pseudo-HTML in labels (``<a href=…>``, ``<b>``). Every stored string a page puts into
Markdown goes through :func:`md`, every label of a chart through :func:`chart_text`.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, cast

import pandas as pd

# CommonMark lets a backslash escape any ASCII punctuation. Escaped are the characters that make
# links and images (``[ ]``), raw HTML and autolinks (``< >``), emphasis, strike-through and code
# (``* _ ~ ` ``), maths (``$``), tables (``|``), headings (``#``) and escapes themselves; plain
# punctuation (quotes, dots, hyphens, colons) stays as typed, so messages read normally.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~$|#])")
#: Bare URLs and e-mail addresses are autolinked (``http://…``, ``www.…``, ``a@b.com``). Streamlit's
#: renderer finds them in the text *after* escapes are resolved, so a backslash does not stop it:
#: an invisible word joiner (U+2060) inside the pattern does, and the text reads the same.
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto):|\b(www)\.|@")
_JOINER = "\u2060"
#: At the start, these would make a list, a quote or a numbered item.
_BLOCK_START = re.compile(r"^(\s*)([-+>=]|\d+(?=[.)]))")


def md(value: object) -> str:
    """``value`` as Markdown that shows exactly its text (no link, image, emphasis or icon)."""
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: m[0][:-1] + _JOINER + m[0][-1], text)
    return _BLOCK_START.sub(
        lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), text
    )


def chart_text(value: object) -> str:
    """``value`` as Plotly label text: shown as typed, never as a link or markup."""
    return html.escape("" if value is None else str(value), quote=False)


def money(value: float | None, empty: str = "unpriced") -> str:
    """A cost for the screen: cents from one cent up, more digits below, ``empty`` for none.

    Why not ``f"${v:,.2f}"``: a sub-cent figure (one Nova Micro call is $0.0000035) printed as
    $0.00, which reads as free; and an unknown cost must read as unknown, not as $0.
    """
    if value is None or value != value:  # None or NaN: nothing could be priced
        return empty
    if value == 0:
        return "$0.00"
    if abs(value) >= 0.01:
        return f"${value:,.2f}"
    digits = 2 - math.floor(math.log10(abs(value)))
    return f"${value:.{digits}f}"


def table_for_screen(frame: pd.DataFrame) -> pd.DataFrame:
    """A reference table as a page shows it, every cell as text: blank for what is unknown or
    does not apply (never ``None``, ``NaN``, ``<NA>`` or ``NaT``), "since always" for a price
    with no start date (stored as :data:`~bedrock_explorer.pricing.catalog.OPEN_START`), whole
    numbers with separators, rates without trailing zeros, dates without a midnight time, and
    headers in words.

    Why text: a blank in a number or date column is shown by the grid as "None" whatever the
    page does. Exports and the CLI keep the raw frame.
    """
    from bedrock_explorer.pricing.catalog import OPEN_START

    return pd.DataFrame(
        {str(c).replace("_", " "): [_cell(v, OPEN_START) for v in frame[c]] for c in frame.columns}
    )


def _cell(value: object, open_start: date) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(cast(Any, value))):
        return ""
    if isinstance(value, datetime):
        if value.date() == open_start:
            return "since always"
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time()
            else f"{value:%Y-%m-%d %H:%M}"
        )
    if isinstance(value, date):
        return "since always" if value == open_start else value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        if number.is_integer() and abs(number) >= 1000:
            return f"{int(number):,}"
        text = f"{number:.8f}".rstrip("0").rstrip(".")
        return f"{number:.3g}" if text in ("0", "-0") and number else text  # never a false 0
    return str(value)


#: The grouped table's columns in words, in the order an analyst reads them: what, what it
#: cost, how sure that cost is, then the volumes.
_GROUPED_HEADERS = {
    "cost_usd": "Cost (USD)",
    "price_status": "Price status",
    "invocations": "Invocations",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "cache_read_tokens": "Cache read tokens",
    "cache_write_tokens": "Cache write tokens",
    "images": "Images",
    "unpriced_tokens": "Unpriced tokens",
    "unpriced_images": "Unpriced images",
}
TOTAL = "Total"


def grouped_for_screen(table: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """The grouped table (``export.grouped_table``) as the page shows it: the dimensions, then
    cost next to them, headers in words, and a *Total* row (its cost empty when nothing in it
    has a price: unpriced, never $0). Numbers stay numbers, so the grid still sorts them;
    :func:`grouped_formats` says how each is written."""
    keys = [c for c in ("period", *dims) if c in table]
    shown = table[keys + [c for c in _GROUPED_HEADERS if c in table]].copy()
    total: dict[str, object] = {k: "" for k in keys}
    if keys:
        total[keys[0]] = TOTAL
    for column in _GROUPED_HEADERS:
        if column == "price_status" or column not in shown:
            continue
        total[column] = (
            shown[column].sum(min_count=1) if column == "cost_usd" else shown[column].sum()
        )
    total["price_status"] = ""
    shown = pd.concat([shown, pd.DataFrame([total])], ignore_index=True)
    return shown.rename(columns={**{k: k.capitalize() for k in keys}, **_GROUPED_HEADERS})


def money_cell(value: object) -> str:
    """:func:`money` for a grid cell (blank text passes through: the total row's labels)."""
    if isinstance(value, str):
        return value
    return money(None if value is None else float(cast(Any, value)))


def grouped_formats(frame: pd.DataFrame) -> dict[Any, str | Callable[[object], str] | None]:
    """How the page writes each number of :func:`grouped_for_screen`: money to the cent (more
    digits under a cent, "unpriced" for none), counts with thousands separators."""
    formats: dict[Any, str | Callable[[object], str] | None] = {"Cost (USD)": money_cell}
    for column in frame.columns:
        if column in _GROUPED_HEADERS.values() and column not in ("Cost (USD)", "Price status"):
            formats[column] = "{:,.0f}"
    return formats


#: A colour-blind-safe qualitative palette (CARTO "Safe", as plotly ships it), and the grey of
#: "Other": the rest is one quiet colour, not a category among the others.
PALETTE = (
    "#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288", "#AA4499",
    "#44AA99", "#999933", "#882255", "#661100", "#6699CC",
)  # fmt: skip
OTHER_GREY = "#B0B0B0"
OTHER = "Other"


def legend_order(frame: pd.DataFrame, by: str) -> list[str]:
    """A chart's categories, the most expensive first and "Other" always last."""
    totals = frame.groupby(by)["cost"].sum().sort_values(ascending=False, kind="stable")
    names = [str(n) for n in totals.index]
    return [n for n in names if n != OTHER] + ([OTHER] if OTHER in names else [])


def colours(order: list[str]) -> dict[str, str]:
    """Each category's colour: the palette in order, grey for "Other"."""
    named = [n for n in order if n != OTHER]
    found = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(named)}
    return {**found, OTHER: OTHER_GREY}


def tick_format(granularity: str) -> str:
    """Axis ticks for a time bucket: a date for a day or a week (its first day), a month for a
    month, the hour only for hours — never "00:00:00 Nov 1" for a single bucket."""
    return {"hour": "%H:%M<br>%-d %b", "day": "%-d %b", "week": "%-d %b", "month": "%b %Y"}[
        granularity
    ]


def chart_summary(frame: pd.DataFrame, by: str, title: str, largest: int = 3) -> str:
    """A chart's text alternative (its accessible name): what it shows, the total and the
    largest groups — what a screen reader user would otherwise miss."""
    totals = frame.groupby(by)["cost"].sum(min_count=1).sort_values(ascending=False)
    known = totals.dropna()
    top = "; ".join(f"{name}: {money(float(cost))}" for name, cost in known.head(largest).items())
    total = money(float(known.sum())) if len(known) else money(None)
    return f"{title}. Total {total} over {len(totals):,} groups" + (
        f"; largest {top}" if top else ""
    )


def chart_table(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A chart's data as a small table (its *view as table*): the columns shown, cost last
    before the volumes, headers in words."""
    shown = frame[[c for c in columns if c in frame]].copy()
    return shown.rename(columns={c: c.replace("_", " ").capitalize() for c in shown.columns})


def named_models(
    frame: pd.DataFrame, column: str, name_of: Callable[[str], str | None]
) -> pd.DataFrame:
    """``column`` (base model ids) shown by the models' names, the id kept in ``model id``
    for hover and tables. An id without a name keeps its id; two ids sharing a name (two
    versions) keep their ids too, so no chart merges them."""
    ids = frame[column].astype(str)
    named = ids.map(lambda m: name_of(m) or m)
    shared = {n for n, group in ids.groupby(named) if group.nunique() > 1}
    shown = named.where(~named.isin(shared), ids)
    return frame.assign(**{column: shown, "model id": ids})
