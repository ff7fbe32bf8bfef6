"""Deterministic demo data: 90 days of a plausible company's Bedrock usage.

Why it goes through the real path: the demo lines are raw JSON log records, prompt text included,
written through the same parse → quarantine → store code as real logs. The demo therefore exercises
(and the tests prove) everything a real import does, malformed lines included.

The story it tells: three accounts (prod, staging, data science) in up to three regions; about a
dozen models, from geo and global Claude profiles to embeddings and an image model; twenty-odd
identities, one of them an LLM gateway role with a session per tenant user; ``requestMetadata``
tags (team, feature, tenant); prompt caching on the chatbot; guardrail blocks; a weekday rhythm; and
one spend spike when the research team back-fills a Claude Sonnet batch job.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bedrock_explorer import audit
from bedrock_explorer.defaults import DEMO_DAYS, DEMO_SEED
from bedrock_explorer.ingest import ImportSummary, ProgressCallback, _no_progress, write_batches
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line

DEFAULT_DAYS = DEMO_DAYS
DEMO_DECLINED_SETTING = "demo.removed_by_user"
DEFAULT_SEED = DEMO_SEED


@dataclass(frozen=True)
class DemoAccount:
    account_id: str
    label: str
    regions: tuple[str, ...]

    @property
    def integration_name(self) -> str:
        return f"Demo · {self.label} ({self.account_id})"


ACCOUNTS = (
    DemoAccount("111122223333", "production", ("us-east-1", "us-west-2", "eu-west-1")),
    DemoAccount("444455556666", "staging", ("us-east-1", "us-west-2")),
    DemoAccount("777788889999", "data science", ("us-east-1", "eu-central-1")),
)


@dataclass(frozen=True)
class Workload:
    """One kind of traffic: who calls which model how, and how much of it per weekday."""

    name: str
    accounts: tuple[str, ...]
    model_ids: tuple[str, ...]
    identities: tuple[str, ...]  # ARN templates; {acct} and {session} are filled in
    per_weekday: int
    input_range: tuple[int, int]
    output_range: tuple[int, int]
    team: str
    feature: str
    operations: tuple[str, ...] = ("Converse",)
    caching: bool = False
    tenants: bool = False
    kind: str = "text"  # text | embeddings | image
    regions: tuple[str, ...] | None = None


SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/k3x9demo7q1z"

WORKLOADS = (
    Workload(
        "support chatbot",
        ("111122223333",),
        ("global." + SONNET_45, "us." + HAIKU_45),
        ("arn:aws:sts::{acct}:assumed-role/support-chatbot-lambda/support-chatbot-prod",),
        per_weekday=150,
        input_range=(300, 2500),
        output_range=(80, 700),
        team="support",
        feature="chat",
        operations=("Converse", "ConverseStream"),
        caching=True,
    ),
    Workload(
        "llm gateway",
        ("111122223333",),
        ("us." + SONNET_45, "us.amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", APP_PROFILE),
        ("arn:aws:sts::{acct}:assumed-role/llm-gateway/{session}",),
        per_weekday=130,
        input_range=(200, 6000),
        output_range=(50, 1200),
        team="platform",
        feature="gateway",
        operations=("Converse", "ConverseStream"),
        tenants=True,
    ),
    Workload(
        "search summaries",
        ("111122223333", "444455556666"),
        ("amazon.nova-micro-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ("arn:aws:sts::{acct}:assumed-role/search-api-task/ecs-task-7f3a",),
        per_weekday=100,
        input_range=(500, 3000),
        output_range=(60, 300),
        team="search",
        feature="summarize",
        operations=("Converse", "InvokeModel"),
    ),
    Workload(
        "rag indexer",
        ("111122223333",),
        ("amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"),
        ("arn:aws:sts::{acct}:assumed-role/rag-indexer/indexer-batch",),
        per_weekday=80,
        input_range=(200, 900),
        output_range=(0, 0),
        team="search",
        feature="embed-index",
        operations=("InvokeModel",),
        kind="embeddings",
    ),
    Workload(
        "marketing images",
        ("111122223333",),
        ("amazon.nova-canvas-v1:0",),
        ("arn:aws:iam::{acct}:user/alice.martin", "arn:aws:iam::{acct}:user/bob.chen"),
        per_weekday=18,
        input_range=(20, 80),
        output_range=(0, 0),
        team="marketing",
        feature="image-gen",
        operations=("InvokeModel",),
        kind="image",
    ),
    Workload(
        "eu assistant",
        ("111122223333",),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "mistral.mistral-large-2402-v1:0"),
        ("arn:aws:sts::{acct}:assumed-role/eu-assistant/eu-assistant-prod",),
        per_weekday=40,
        input_range=(400, 3000),
        output_range=(100, 600),
        team="support",
        feature="chat",
        regions=("eu-west-1",),
    ),
    Workload(
        "staging tests",
        ("444455556666",),
        ("us." + HAIKU_45, "us.meta.llama3-3-70b-instruct-v1:0", "amazon.nova-lite-v1:0"),
        (
            "arn:aws:iam::{acct}:user/carol.ng",
            "arn:aws:iam::{acct}:user/dan.okafor",
            "arn:aws:sts::{acct}:assumed-role/github-actions-ci/GitHubActions",
        ),
        per_weekday=50,
        input_range=(100, 2000),
        output_range=(30, 500),
        team="platform",
        feature="ci-evals",
        operations=("Converse", "InvokeModel"),
    ),
    Workload(
        "data science",
        ("777788889999",),
        (
            "us." + SONNET_45,
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.meta.llama3-3-70b-instruct-v1:0",
            "deepseek.v3-v1:0",
        ),
        (
            "arn:aws:sts::{acct}:assumed-role/AWSReservedSSO_DataScientist_5c1e/maria.garcia",
            "arn:aws:sts::{acct}:assumed-role/AWSReservedSSO_DataScientist_5c1e/kenji.sato",
            "arn:aws:sts::{acct}:assumed-role/sagemaker-notebook/notebook-ml-team",
            "arn:aws:iam::{acct}:user/erin.walsh",
        ),
        per_weekday=40,
        input_range=(1000, 12000),
        output_range=(200, 2500),
        team="research",
        feature="experiments",
        operations=("Converse", "InvokeModelWithResponseStream"),
    ),
)

TENANTS = ("acme", "globex", "initech", "umbrella", "stark", "wayne")
SPIKE_DAYS_BEFORE_END = 23
MALFORMED_PER_ACCOUNT = 4


def _hour_weights() -> list[float]:
    # Office-hours shaped traffic (UTC), never zero at night.
    return [0.25 if h < 7 or h > 20 else 1.0 + (0.6 if 13 <= h <= 17 else 0.0) for h in range(24)]


_HOURS = list(range(24))
_HOUR_WEIGHTS = _hour_weights()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _spec(rng: random.Random, work: Workload, acct: DemoAccount, day: date) -> RecordSpec:
    model_id = rng.choice(work.model_ids)
    region = rng.choice(work.regions or acct.regions)
    if model_id.startswith("eu."):
        region = "eu-west-1"
    hour = rng.choices(_HOURS, _HOUR_WEIGHTS)[0]
    ts = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), UTC)
    tenant = rng.choice(TENANTS) if work.tenants else None
    session = f"{tenant}-user-{rng.randrange(1, 9)}" if tenant else "session"
    identity = rng.choice(work.identities).format(acct=acct.account_id, session=session)
    metadata = {"team": work.team, "feature": work.feature}
    if tenant:
        metadata["tenant"] = tenant
    spec = RecordSpec(
        request_id=_uuid(rng),
        ts=ts,
        model_id=model_id,
        account_id=acct.account_id,
        region=region,
        operation=rng.choice(work.operations),
        identity_arn=identity,
        input_tokens=rng.randint(*work.input_range),
        output_tokens=rng.randint(*work.output_range),
        latency_ms=rng.randint(250, 9000),
        request_metadata=metadata,
        prompt=f"DEMO-PROMPT-CANARY {work.feature} request {rng.randrange(10**6)}",
        answer=f"DEMO-RESPONSE-CANARY answer {rng.randrange(10**6)}",
    )
    if model_id.startswith(("us.", "eu.", "global.")):
        geo_regions = {
            "us.": ("us-east-1", "us-east-2", "us-west-2"),
            "eu.": ("eu-west-1", "eu-central-1", "eu-west-3"),
            "global.": ("us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2"),
        }
        prefix = model_id.split(".", 1)[0] + "."
        spec.inference_region = rng.choice(geo_regions[prefix])
    if work.kind == "embeddings":
        spec.operation, spec.output_tokens, spec.embedding_dims = "InvokeModel", 0, 8
    elif work.kind == "image":
        spec.operation, spec.images = "InvokeModel", rng.choice((1, 1, 1, 2, 4))
    if work.caching and "claude" in model_id:
        spec.cache_read_tokens = rng.randint(2000, 9000) if rng.random() < 0.7 else 0
        writes = rng.randint(2000, 9000) if rng.random() < 0.15 else 0
        spec.cache_write_tokens = writes
        spec.cache_write_1h_tokens = writes if writes and rng.random() < 0.3 else 0
    roll = rng.random()
    if roll < 0.006:
        spec.guardrail_blocked, spec.output_tokens = True, 0
    elif roll < 0.009:
        spec.error_code = rng.choice(("ThrottlingException", "ValidationException"))
        spec.input_tokens = spec.output_tokens = 0
    if rng.random() < 0.01:
        spec.offloaded = True
    return spec


_MALFORMED = (
    lambda rid: '{"schemaType":"ModelInvocationLog","requestId":"' + rid + '","timestamp":"2025-0',
    lambda rid: (
        '{"schemaType":"ModelInvocationLog","schemaVersion":"1.0",'
        '"timestamp":"2025-06-01T10:00:00Z","modelId":"amazon.nova-lite-v1:0",'
        '"input":{"inputTokenCount":12},"output":{"outputTokenCount":3}}'
    ),
    lambda rid: (
        '{"schemaType":"ModelInvocationLog","requestId":"' + rid + '",'
        '"timestamp":"2025-13-45T99:00:00Z","modelId":"amazon.nova-lite-v1:0"}'
    ),
    lambda rid: "<html>502 Bad Gateway</html>",
)


def generate(
    account: DemoAccount,
    end: date | None = None,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    until: datetime | None = None,
    days_per_batch: int = 10,
) -> Iterator[RawBatch]:
    """Yield batches of raw log lines for one account, ``days_per_batch`` days at a time.

    Deterministic for a given (account, end, days, seed). Records later than ``until`` (default:
    now) are left out, so the demo never shows invocations from the future.
    """
    until = until or datetime.now(UTC)
    end = end or until.date()
    start = end - timedelta(days=days - 1)
    rng = random.Random(f"{seed}:{account.account_id}")  # noqa: S311 - demo data, not secrets
    works = [w for w in WORKLOADS if account.account_id in w.accounts]
    malformed_every = max(1, days // MALFORMED_PER_ACCOUNT)
    lines: list[str] = []
    refs: list[str] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        weekend = day.weekday() >= 5
        day_lines: list[str] = []
        for work in works:
            volume = work.per_weekday * (0.35 if weekend else 1.0) * rng.uniform(0.85, 1.15)
            volume *= 1.0 + 0.4 * offset / days  # adoption grows over the quarter
            if (end - day).days == SPIKE_DAYS_BEFORE_END and work.team == "research":
                volume *= 25  # the back-fill batch job
            for _ in range(round(volume)):
                spec = _spec(rng, work, account, day)
                if spec.ts <= until:
                    day_lines.append(make_line(spec))
        if offset % malformed_every == 0:
            day_lines.append(_MALFORMED[(offset // malformed_every) % len(_MALFORMED)](_uuid(rng)))
        lines.extend(day_lines)
        refs.extend(f"{day.isoformat()} line {n}" for n in range(1, len(day_lines) + 1))
        if (offset + 1) % days_per_batch == 0 or offset == days - 1:
            yield RawBatch(f"demo/{account.account_id}", lines, refs=refs, nbytes=1)
            lines, refs = [], []


def load_demo(
    store: Store,
    *,
    end: date | None = None,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    progress: ProgressCallback = _no_progress,
) -> ImportSummary:
    """Create the demo integrations (replacing earlier demo data) and load the demo logs."""
    store.authorize(audit.DEMO_LOADED)
    for integ in store.list_integrations():
        if integ.is_demo:
            store.remove_integration(integ.name)
    summary = ImportSummary(integration="demo data")
    integrations = {}
    for acct in ACCOUNTS:
        integrations[acct.account_id] = store.add_integration(
            acct.integration_name,
            "demo",
            {
                "account_id": acct.account_id,
                "regions": list(acct.regions),
                "days": days,
                "seed": seed,
            },
            is_demo=True,
        )
        summary.integrations.append(acct.integration_name)
    started = datetime.now(UTC)
    for acct in ACCOUNTS:
        integ = integrations[acct.account_id]
        write_batches(
            store,
            integ,
            generate(acct, end, days, seed),
            summary,
            total_bytes=None,
            progress=progress,
            message=f"Generating demo data for the {acct.label} account",
        )
        store.set_sync_status(integ.id, "ok", "demo data")
    summary.seconds = (datetime.now(UTC) - started).total_seconds()
    store.audit(audit.DEMO_LOADED, "demo data", f"{summary.inserted:,} invocations")
    return summary


def remove_demo(store: Store) -> int:
    """Delete every demo integration and its data; returns the invocations removed.

    Also remembers that the user removed it, so the dashboard never loads it again by itself.
    """
    store.authorize(audit.DEMO_REMOVED)
    store.set_setting(DEMO_DECLINED_SETTING, "true")
    gone = sum(store.remove_integration(i.name) for i in store.list_integrations() if i.is_demo)
    store.audit(audit.DEMO_REMOVED, "demo data", f"{gone:,} invocations")
    return gone


def should_autoload(store: Store) -> bool:
    """First start: an empty database whose user has not removed the demo before."""
    return not store.list_integrations() and store.get_setting(DEMO_DECLINED_SETTING) is None
