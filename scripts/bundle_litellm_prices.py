"""Generate ``bedrock_explorer/pricing/litellm_prices.json`` from litellm's model price map.

Why: litellm ships a well-kept, community-maintained price map
(``model_prices_and_context_window_backup.json`` inside its wheel) that names Bedrock model ids
with their regional (``bedrock/eu-west-1/…``), geographic (``eu.…``) and global (``global.…``)
rates, service tiers (flex, priority) and long-context rates. Reading it from the wheel keeps the
prices out of hand typing and keeps litellm (a large SDK) out of our runtime dependencies.

Usage (network to PyPI only)::

    pip download --no-deps litellm==VERSION -d /tmp/litellm
    python scripts/bundle_litellm_prices.py /tmp/litellm/litellm-VERSION-*.whl --released YYYY-MM-DD

``--released`` is the wheel's release date on PyPI: it becomes each rate's ``as_of``, the day from
which a rate that changed against the previous bundle applies (history keeps the older one).

Entries the invocation logs cannot meet are left out, and counted: the ``bedrock_mantle``
OpenAI-compatible endpoint and Claude Platform (not in invocation logs), provisioned-throughput
commitments (billed per hour), batch rates (batch jobs are not invocation-logged) and the
image-size/steps variants of one model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (after the path: the script runs from a checkout)
from bedrock_explorer import model_ids
from bedrock_explorer.pricing import catalog

_MEMBER = "litellm/model_prices_and_context_window_backup.json"
_OUT = (
    Path(__file__).resolve().parent.parent / "bedrock_explorer" / "pricing" / "litellm_prices.json"
)
_PROVIDERS = ("bedrock", "bedrock_converse")
_TIERS = {"": "standard", "_flex": "flex", "_priority": "priority"}
#: litellm field stem → our meter (token meters per token, the image meter per image).
_STEMS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "output_cost_per_image": "image",
}
_FIELD = re.compile(
    r"^(?P<stem>"
    + "|".join(sorted(map(re.escape, _STEMS), key=len, reverse=True))
    + r")(?:_above_(?P<k>\d+)k_tokens)?(?P<tier>_flex|_priority)?$"
)


def _key_parts(key: str) -> tuple[str, str, str] | None:
    """(model id, routing class, region scope) for a litellm key, or None if out of scope."""
    parts = key.split("/")
    if parts[0] == "bedrock":
        parts = parts[1:]
    if parts and parts[0] in ("converse", "invoke"):
        parts = parts[1:]
    region = catalog.ANY_REGION
    if len(parts) == 2 and catalog.REGION_CODE.match(parts[0]):
        region, parts = parts[0], parts[1:]
    if len(parts) != 1:
        return None  # commitments, image size/steps variants, claude_platform …
    # Split the id as the invocations' ids are split, so a rate's key is what they look up.
    ref = model_ids.resolve(parts[0])
    if ref.base_model is None:
        return None
    if ref.routing == model_ids.ROUTING_GLOBAL:
        return ref.base_model, "global", region
    if ref.routing == model_ids.ROUTING_GEO and ref.geo:
        return ref.base_model, "regional", ref.geo if region == catalog.ANY_REGION else region
    return ref.base_model, "any", region


#: A region a cross-region profile of each geography is called from, for the coverage check.
_HOME = {
    "us": "us-east-1",
    "eu": "eu-west-1",
    "apac": "ap-southeast-1",
    "jp": "ap-northeast-1",
    "au": "ap-southeast-2",
    "ca": "ca-central-1",
    "in": "ap-south-1",
    "us-gov": "us-gov-west-1",
}


def _as_logged(key: str, model: str, routing_class: str, region: str) -> tuple[str, str]:
    """(model id as logged, a source region) for one entry of the map."""
    logged = key.rsplit("/", 1)[-1]
    if region in _HOME:
        return logged, _HOME[region]
    return logged, region if region != catalog.ANY_REGION else "us-east-1"


def _usd_per_million(meter: str, value: float) -> str:
    if meter == "image":
        return format(value, "f").rstrip("0").rstrip(".") or "0"
    text = f"{value * 1_000_000:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def build(
    data: dict[str, object], released: str, version: str
) -> tuple[dict[str, object], Counter]:
    skipped: Counter[str] = Counter()
    # An image model with size/steps variants ("1024-x-1024/50-steps/…") has an unsized price that
    # is one of them, without saying which: its per-image price is left to the hand-kept file.
    sized = {k.rsplit("/", 1)[-1] for k in data if re.match(r"^(\d+|max)-x-(\d+|max)/", k)}
    rows: dict[tuple[str, str, str, str, int], dict[str, object]] = {}
    catalogue: set[tuple[str, str]] = set()
    for key, entry in sorted(data.items()):
        if not isinstance(entry, dict) or entry.get("litellm_provider") not in _PROVIDERS:
            if isinstance(entry, dict) and str(entry.get("litellm_provider", "")).startswith(
                "bedrock"
            ):
                skipped[str(entry["litellm_provider"])] += 1
            continue
        parts = _key_parts(key)
        if parts is None:
            skipped["variant, commitment or platform key"] += 1
            continue
        model, routing_class, region = parts
        catalogue.add(_as_logged(key, model, routing_class, region))
        for field, value in entry.items():
            match = _FIELD.match(field)
            if not match or not isinstance(value, (int, float)):
                continue
            meter = _STEMS[match["stem"]]
            if meter == "image" and model in sized:
                skipped["ambiguous per-image price (size variants)"] += 1
                continue
            tier = _TIERS[match["tier"] or ""]
            threshold = int(match["k"]) * 1000 if match["k"] else 0
            row = rows.setdefault(
                (model, routing_class, region, tier, threshold),
                {
                    "model_key": model,
                    "routing_class": routing_class,
                    "region": region,
                    "tier": tier,
                    "meters": {},
                    **({"min_input_tokens": threshold} if threshold else {}),
                },
            )
            row["meters"][meter] = _usd_per_million(meter, float(value))  # type: ignore[index]
    about = (
        f"Generated by scripts/bundle_litellm_prices.py from litellm {version} "
        f"({_MEMBER}), released {released}. Token meters are USD per 1M tokens, the image "
        "meter USD per image. region: an AWS region, a geography of cross-region profiles "
        f"({', '.join(model_ids.GEO_PREFIXES)}) or * (the published default, US list price). "
        "routing_class: regional (in-region and geo profiles), global, or any. Do not edit: "
        "regenerate."
    )
    return (
        {
            "about": about,
            "source": f"litellm {version}",
            "source_url": "https://github.com/BerriAI/litellm",
            "as_of": released,
            "rates": [r for _, r in sorted(rows.items()) if r["meters"]],
            # Every Bedrock model id the map names (priced there or not), as a log would show
            # it, with a region it is called from: what `prices coverage` measures against.
            "catalogue": [list(item) for item in sorted(catalogue)],
        },
        skipped,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="a litellm wheel (pip download --no-deps litellm)")
    parser.add_argument("--released", required=True, help="the wheel's PyPI release date")
    parser.add_argument("--output", type=Path, default=_OUT)
    args = parser.parse_args(argv)
    version = args.wheel.name.split("-")[1]
    with zipfile.ZipFile(args.wheel) as wheel:
        data = json.loads(wheel.read(_MEMBER))
    table, skipped = build(data, args.released, version)
    # One rate per line: a regenerated file diffs by the rates that changed.
    head = {k: v for k, v in table.items() if k not in ("rates", "catalogue")}
    rates = [json.dumps(row, separators=(", ", ": ")) for row in table["rates"]]  # type: ignore[union-attr]
    seen = [json.dumps(item) for item in table["catalogue"]]  # type: ignore[union-attr]
    text = (
        json.dumps(head, indent=1)[:-2]
        + ',\n "rates": [\n  '
        + ",\n  ".join(rates)
        + '\n ],\n "catalogue": [\n  '
        + ",\n  ".join(seen)
        + "\n ]\n}\n"
    )
    json.loads(text)  # what we wrote must read back
    args.output.write_text(text)
    print(f"{len(table['rates'])} rate rows written to {args.output}", file=sys.stderr)  # type: ignore[arg-type]
    for reason, count in skipped.most_common():
        print(f"  left out: {count} {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
