"""Derive the base model and the routing from the raw ``modelId`` a caller passed to Bedrock.

Why this is its own module: the raw id is kept verbatim on every invocation, and this derivation
fills a small dimension table (``model_ids``) instead of columns on the invocation rows. Some ids
(application inference profiles, provisioned models) can only be resolved later with an AWS call
or by hand; a dimension row can be corrected without rewriting history.

The forms Bedrock accepts as ``modelId`` (and logs verbatim):

* a base id: ``anthropic.claude-3-haiku-20240307-v1:0``
* a geo or global cross-region inference profile id: ``us.`` ``eu.`` ``apac.`` ``jp.`` ``au.``
  ``in.`` ``us-gov.`` ``ca.`` or ``global.`` + base id
* an ARN of a foundation model, an inference profile, an application inference profile, a
  provisioned model, a custom / imported model or a prompt router.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROUTING_IN_REGION = "in_region"
ROUTING_GEO = "geo"
ROUTING_GLOBAL = "global"
ROUTING_APPLICATION_PROFILE = "application_profile"
ROUTING_PROVISIONED = "provisioned"
ROUTING_CUSTOM = "custom"
ROUTING_PROMPT_ROUTER = "prompt_router"

#: Geographic prefixes of system-defined cross-region inference profiles. Longest first so that
#: ``us-gov.`` is not read as ``us.`` + ``gov.…``.
GEO_PREFIXES = ("us-gov", "apac", "us", "eu", "jp", "au", "ca", "in")

_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:(?P<region>[a-z0-9-]*):(?P<account>[^:]*):"
    r"(?P<kind>[a-z-]+)/(?P<rest>.+)$"
)

SERVICE_TEXT = "text"
SERVICE_EMBEDDINGS = "embeddings"
SERVICE_IMAGE = "image"
SERVICE_VIDEO = "video"
SERVICE_RERANK = "rerank"
SERVICE_SPEECH = "speech"


@dataclass(frozen=True)
class ModelRef:
    """What a raw ``modelId`` says about the model and how the request was routed."""

    model_id: str
    base_model: str | None  # None when only AWS (or the user) can tell, e.g. provisioned ARNs
    routing: str
    geo: str | None  # "us", "eu", … for geo profiles; "global" for global profiles
    arn_region: str | None  # the region named in an ARN, if any
    provider: str | None
    service_type: str


def _split_profile_prefix(profile_id: str) -> tuple[str, str | None, str]:
    """``us.anthropic.x`` → (``anthropic.x``, ``us``, routing)."""
    if profile_id.startswith("global."):
        return profile_id[len("global.") :], "global", ROUTING_GLOBAL
    for geo in GEO_PREFIXES:
        if profile_id.startswith(geo + "."):
            return profile_id[len(geo) + 1 :], geo, ROUTING_GEO
    return profile_id, None, ROUTING_IN_REGION


def provider_of(base_model: str | None) -> str | None:
    """The provider is the first dotted part of a base id (``anthropic``, ``amazon`` …)."""
    if not base_model or "." not in base_model:
        return None
    return base_model.split(".", 1)[0]


def service_type_of(base_model: str | None) -> str:
    """What kind of work the model does, from its id (ids name their modality reliably)."""
    name = (base_model or "").lower()
    if "rerank" in name:
        return SERVICE_RERANK
    if "embed" in name:
        return SERVICE_EMBEDDINGS
    if "reel" in name or "video" in name or "ray-" in name:
        return SERVICE_VIDEO
    if "sonic" in name or "polly" in name:
        return SERVICE_SPEECH
    if any(k in name for k in ("image", "canvas", "stable-", "sd3", "sdxl", "titan-image")):
        return SERVICE_IMAGE
    return SERVICE_TEXT


def resolve(model_id: str) -> ModelRef:
    """Derive base model, routing and provider from a raw ``modelId`` (pure, no AWS call)."""
    raw = model_id.strip()
    base: str | None
    geo: str | None = None
    arn_region: str | None = None
    match = _ARN.match(raw)
    if match:
        arn_region = match["region"] or None
        kind, rest = match["kind"], match["rest"]
        if kind == "foundation-model":
            base, routing = rest, ROUTING_IN_REGION
        elif kind == "inference-profile":
            base, geo, routing = _split_profile_prefix(rest)
        elif kind == "application-inference-profile":
            base, routing = None, ROUTING_APPLICATION_PROFILE
        elif kind == "provisioned-model":
            base, routing = None, ROUTING_PROVISIONED
        elif kind in ("default-prompt-router", "prompt-router"):
            base, routing = None, ROUTING_PROMPT_ROUTER
        else:  # custom-model, imported-model, custom-model-deployment, marketplace endpoints …
            base, routing = None, ROUTING_CUSTOM
    else:
        base, geo, routing = _split_profile_prefix(raw)
    return ModelRef(
        model_id=model_id,
        base_model=base,
        routing=routing,
        geo=geo,
        arn_region=arn_region,
        provider=provider_of(base),
        service_type=service_type_of(base if base is not None else raw),
    )
