"""How a request was served and billed: Bedrock's service tiers and the latency-optimized
configuration. Their own module, importing nothing, so the CLI's parser can offer them as
choices without loading the record parser (DuckDB, Arrow)."""

TIER_STANDARD = "standard"
TIER_LATENCY_OPTIMIZED = "latency_optimized"
TIER_FLEX = "flex"
TIER_PRIORITY = "priority"
TIER_RESERVED = "reserved"
#: Bedrock's service tiers (``serviceTier.type``: default, flex, priority, reserved) and the
#: latency-optimized performance configuration.
TIERS = (TIER_STANDARD, TIER_LATENCY_OPTIMIZED, TIER_FLEX, TIER_PRIORITY, TIER_RESERVED)
#: Tiers billed per token (reserved capacity is billed per reservation).
PRICED_TIERS = tuple(t for t in TIERS if t != TIER_RESERVED)
