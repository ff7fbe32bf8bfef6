"""Pair the bill's name for a model with the base model ids the logs hold.

Why a key of words, not a table: the bill writes ``Claude4.6Opus``, ``Nova2.0Lite``,
``Llama3-2-1B``, ``anthropic.claude-opus-4-8`` or the Marketplace product ``Claude Sonnet 4.5``;
the logs write ``anthropic.claude-opus-4-6-v1``, ``amazon.nova-2-lite-v1:0``. Both reduce to the
same unordered set of words and versions ({claude, opus, 4.6}) once the maker, dates, ``-v1:0``
and filler words are dropped, so a model AWS adds tomorrow matches without an edit here. A name
that matches no logged model, or more than one, stays the bill's own name (its bucket is then
"billed, not logged") — never a guess.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from bedrock_explorer.pricing import catalog

#: Words that do not tell two models apart.
_FILLER = frozenset({"instruct", "it", "chat", "edition", "amazon", "bedrock", "model", "text"})


@functools.lru_cache(maxsize=8192)
def model_key(name: str) -> frozenset[str]:
    """The words and versions of a model name, order-free: ``Claude4.6Opus`` and
    ``anthropic.claude-opus-4-6-v1`` both give {claude, opus, 4.6}."""
    text = re.sub(r"\(.*?\)", " ", name)  # "(Amazon Bedrock Edition)"
    text = re.sub(r"^[a-z]+(-[a-z]+)*\.(?=[a-z])", "", text)  # maker: anthropic., us.anthropic.
    text = re.sub(r"^[a-z]+(-[a-z]+)*\.(?=[a-z])", "", text)
    text = re.sub(r"-v1(:\d+)?$", "", text)
    text = re.sub(r"-v(\d+)(:\d+)?$", r" v\1", text)
    text = re.sub(r":\d+$", "", text)
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # CamelCase words
    text = text.lower()
    # letters then digits ("claude4", "nova2.0") split; sizes ("70b", "4b") stay whole
    text = re.sub(r"(?<=[a-z])(?=\d)", " ", text)
    text = re.sub(r"(?<=\d)(?=[a-z]{2,})", " ", text)
    parts = re.split(r"[^a-z0-9.]+", text)
    words: list[str] = []
    previous_number = False
    for part in parts:
        part = part.strip(".")
        if not part:
            previous_number = False
            continue
        if re.fullmatch(r"\d{4,}", part):  # dates and snapshot numbers (20250929, 2507)
            previous_number = False
            continue
        if re.fullmatch(r"\d+(\.\d+)*", part):
            number = re.sub(r"\.0$", "", part)
            if previous_number and "." not in words[-1] and len(part) <= 2:
                words[-1] = f"{words[-1]}.{number}"  # claude-3-5 → 3.5
                previous_number = False
                continue
            words.append(number)
            previous_number = True
            continue
        previous_number = False
        if part not in _FILLER:
            words.append(part)
    return frozenset(words)


def match_models(bill_names: Iterable[str], base_models: Iterable[str]) -> dict[str, str]:
    """Each bill name that matches exactly one logged base model id → that id.

    A base model matches through its own id or through its display name ("Claude Opus 4.6")."""
    keyed: dict[frozenset[str], set[str]] = {}
    for base in base_models:
        if not base:
            continue
        keys = {model_key(base)}
        name = catalog.display_name(base)
        if name:
            keys.add(model_key(name))
        for key in keys:
            if key:
                keyed.setdefault(key, set()).add(base)
    found: dict[str, str] = {}
    for name in bill_names:
        candidates = keyed.get(model_key(name), set())
        if len(candidates) == 1:
            found[name] = next(iter(candidates))
    return found
