"""How much of Bedrock the price book covers, measured against a well-kept public catalogue.

Why measure: "we price Bedrock" is only true for the model ids we have rates for. The catalogue
is every Bedrock model id named in litellm's price map (bundled with its rates in
``litellm_prices.json``), each with a region it is called from; a model id counts as covered
when the book gives it a per-token or per-image price there today, with the same resolution the
invocations get (the user's overrides and Price List rates included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources

from bedrock_explorer import model_ids
from bedrock_explorer.pricing import points
from bedrock_explorer.records import TIER_STANDARD
from bedrock_explorer.store import Store


@dataclass
class Coverage:
    source: str
    total: int = 0
    priced: int = 0
    missing: list[dict[str, str]] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.priced / self.total if self.total else 100.0

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "model_ids": self.total,
            "priced": self.priced,
            "percent": round(self.percent, 1),
            "missing": self.missing,
        }


def catalogue() -> tuple[str, list[tuple[str, str]]]:
    """(source name, [(model id as logged, region)]) of the bundled catalogue."""
    text = resources.files("bedrock_explorer.pricing").joinpath("litellm_prices.json").read_text()
    data = json.loads(text)
    return data["source"], [(m, r) for m, r in data["catalogue"]]


def measure(store: Store, on: date) -> Coverage:
    """Which catalogue model ids the store's price book prices on ``on``."""
    source, entries = catalogue()
    rates = points.rates_by_key(store.con)
    day = datetime.combine(on, datetime.min.time())
    report = Coverage(source)
    for model_id, region in entries:
        ref = model_ids.resolve(model_id)
        found = points.resolve(ref, region, TIER_STANDARD, rates)
        point = next((p for p in found if p.valid_from <= day < p.valid_to), found[-1])
        report.total += 1
        if point.status in (points.STATUS_PRICED, points.STATUS_ESTIMATED):
            report.priced += 1
        else:
            report.missing.append(
                {"model_id": model_id, "region": region, "reason": point.reason or point.status}
            )
    return report
