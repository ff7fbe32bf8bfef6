"""Resolve application inference profiles to the model they run, through ``GetInferenceProfile``.

An application inference profile ARN says nothing about its model; Bedrock knows. Its ``models``
list holds the foundation-model ARN in every region the profile may route to: one region means
in-region, several regions of one geography a geo profile, several geographies a global one —
which decides the price. Results are cached in ``model_ids`` (``resolved_by = 'aws'``); a mapping
the user set by hand (``prices resolve``) is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from bedrock_explorer import aws, model_ids
from bedrock_explorer.pricing import book
from bedrock_explorer.store import Store

NEEDS = "bedrock:GetInferenceProfile on the application inference profiles"


@dataclass(frozen=True)
class Resolution:
    model_id: str
    base_model: str | None
    routing: str | None
    error: str | None = None


def routing_of(regions: set[str]) -> str:
    """One region: in-region; one geography (us-*, eu-*, …): geo; several: global."""
    if len(regions) <= 1:
        return model_ids.ROUTING_IN_REGION
    geographies = {region.split("-", 1)[0] for region in regions}
    return model_ids.ROUTING_GEO if len(geographies) == 1 else model_ids.ROUTING_GLOBAL


def _describe(client: Any, arn: str) -> tuple[str, str]:
    answer = client.get_inference_profile(inferenceProfileIdentifier=arn)
    arns = [m["modelArn"] for m in answer.get("models", []) if m.get("modelArn")]
    if not arns:
        raise ValueError("the profile lists no model")
    base = arns[0].split("foundation-model/", 1)[-1]
    regions = {a.split(":")[3] for a in arns if a.count(":") >= 5}
    return base, routing_of(regions)


def unresolved_profiles(store: Store) -> list[tuple[str, str | None]]:
    """(model id, region in its ARN) of application profiles whose model is not known yet.

    A profile's model does not change, so one resolved (by AWS or by hand) is not asked again.
    """
    return store.con.execute(
        "SELECT model_id, arn_region FROM model_ids "
        "WHERE routing = 'application_profile' AND base_model IS NULL ORDER BY model_id"
    ).fetchall()


def resolve_profiles(
    store: Store, clients: dict[str, Any] | None = None, profile: str | None = None
) -> list[Resolution]:
    """Ask Bedrock what each application inference profile runs, store it, re-price history.

    ``clients`` (region → bedrock client) lets tests inject stubbed clients.
    """
    clients = dict(clients or {})
    session = None
    results = []
    for model_id, region in unresolved_profiles(store):
        region = region or "us-east-1"
        if region not in clients:
            session = session or aws.session(profile)
            clients[region] = aws.client(session, "bedrock", region)
        try:
            base, routing = _describe(clients[region], model_id)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            message = str(aws.explain(err, f"reading {model_id}", NEEDS))
            results.append(Resolution(model_id, None, None, message))
            continue
        except ValueError as err:
            results.append(Resolution(model_id, None, None, str(err)))
            continue
        target = model_ids.resolve(base)
        geo = {model_ids.ROUTING_GLOBAL: "global", model_ids.ROUTING_GEO: "geo"}.get(routing)
        store.con.execute(
            "UPDATE model_ids SET base_model = ?, provider = ?, service_type = ?, geo = ?, "
            "resolved_by = 'aws', updated_at = current_timestamp AT TIME ZONE 'UTC' "
            "WHERE model_id = ?",
            [target.base_model, target.provider, target.service_type, geo, model_id],
        )
        results.append(Resolution(model_id, target.base_model, routing))
    if any(r.base_model for r in results):
        book.compile_price_points(store)
    return results
