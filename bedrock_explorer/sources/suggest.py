"""Names close to a mistyped one, and the sentence offering them (log groups, buckets)."""

from __future__ import annotations

import difflib


def did_you_mean(names: list[str]) -> str:
    """``did you mean 'a' or 'b'?`` — the fix offered for a mistyped name."""
    return "did you mean " + " or ".join(repr(name) for name in names) + "?"


def close_names(name: str, names: list[str], n: int = 3) -> list[str]:
    """Names close to ``name``, ignoring case (``/aws/Bedrock`` vs ``/aws/bedrock``)."""
    lowered = {candidate.lower(): candidate for candidate in names}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[m] for m in matches]
