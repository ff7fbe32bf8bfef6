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
import re

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
