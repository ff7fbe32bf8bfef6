"""The CLI's arguments: every command, option and help text, in one place.

Why apart from the commands: building the parser imports nothing heavy (no pandas, DuckDB or
boto3), so ``--help`` and a mistyped option answer at once; a command's module is imported only
when it runs (``set_defaults(func="module:function")``, resolved by ``cli.main``).
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bedrock_explorer import __version__
from bedrock_explorer.config import DB_ENV_VAR
from bedrock_explorer.defaults import DEMO_DAYS, DEMO_SEED, PRICE_LIST_REGION
from bedrock_explorer.dimensions import FILTERABLE, GROUP_BY
from bedrock_explorer.sources.registry import SETTINGS as SOURCE_SETTINGS
from bedrock_explorer.sources.settings import DEFAULT_FIRST_SYNC_DAYS
from bedrock_explorer.tiers import PRICED_TIERS

#: ``prices set`` options, one per meter (``cli_commands`` maps them to meters).
METER_OPTIONS = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "image",
    "image_premium",
    "image_large",
    "image_premium_large",
)


def date_argument(text: str) -> date:
    """An argparse type for ``YYYY-MM-DD``, refusing anything else with that hint."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from err


_IMAGE_HELP = {
    "image": "USD per image (standard quality; for Nova Canvas and Titan Image, base size)",
    "image_premium": "USD per premium-quality image of base size (Nova Canvas, Titan Image)",
    "image_large": "USD per standard image above base size (Nova Canvas 1024², Titan 512²)",
    "image_premium_large": "USD per premium-quality image above base size",
}

#: A price above this (USD per 1M tokens, or per image) is a typo, not a rate.
_MAX_PRICE = Decimal(100_000)


def _decimal(text: str) -> str:
    """A price: a finite number from 0 to 100,000 (``NaN``, ``inf`` and negatives are refused)."""
    try:
        value = Decimal(text)
    except InvalidOperation as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if not value.is_finite() or value < 0 or value > _MAX_PRICE:
        raise argparse.ArgumentTypeError(
            f"not a price: {text!r} (give a number from 0 to {_MAX_PRICE:,} USD)"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bedrock_explorer",
        description="Bedrock Explorer: Amazon Bedrock spend from model invocation logs, locally.",
    )
    parser.add_argument("--version", action="version", version=f"bedrock-explorer {__version__}")
    parser.add_argument(
        "--db", help=f"database file (default: ${DB_ENV_VAR}, else the per-user data folder)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="import invocation logs from files or folders")
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=".jsonl/.json/.gz files, S3 delivery trees, CloudWatch exports, folders",
    )
    p.add_argument(
        "--integration",
        required=True,
        metavar="NAME",
        help="integration to import into (created if new)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="re-read files already imported unchanged (nothing is stored twice)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func="cli_commands:cmd_import")

    p = sub.add_parser("demo", help="load (or --remove) the labelled demo data")
    p.add_argument("--remove", action="store_true", help="remove the demo data")
    p.add_argument("--days", type=int, default=DEMO_DAYS, help="days of history")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func="cli_commands:cmd_demo")

    _add_source_parsers(sub)
    _add_report_parser(sub)
    _add_coverage_parser(sub)
    _add_bill_parsers(sub)

    p = sub.add_parser("stats", help="per integration: invocations, date range, quarantined lines")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_commands:cmd_stats")

    prices = sub.add_parser("prices", help="the prices used, overrides, unpriced models")
    psub = prices.add_subparsers(dest="prices_command", required=True, metavar="ACTION")
    p = psub.add_parser("list", help="compiled prices per model id seen, with their source")
    p.add_argument("--model", help="only model ids containing this text")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_commands:cmd_prices_list")
    p = psub.add_parser("unpriced", help="models seen without a price, with their token volume")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_commands:cmd_prices_unpriced")
    p = psub.add_parser(
        "set", help="your own price from a date on (token prices per 1M tokens, images per image)"
    )
    p.add_argument("model", metavar="MODEL", help="base model id, e.g. amazon.nova-pro-v1:0")
    for option in METER_OPTIONS:
        unit = _IMAGE_HELP.get(option, "USD per 1M tokens")
        p.add_argument(
            f"--{option.replace('_', '-')}", dest=option, type=_decimal, metavar="USD", help=unit
        )
    p.add_argument(
        "--from",
        dest="from_date",
        required=True,
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="first day the price applies (UTC)",
    )
    p.add_argument(
        "--routing",
        default="any",
        choices=("any", "regional", "global"),
        help="regional = in-region and geo profiles (default: any)",
    )
    p.add_argument("--tier", default="standard", choices=PRICED_TIERS)
    p.add_argument(
        "--region",
        default="*",
        help="source region (eu-west-1) or geography (eu, apac, us-gov …) the price is for "
        "(default: * = every region without a price of its own)",
    )
    p.add_argument("--note", help="why (shown as the price's note)")
    p.set_defaults(func="cli_commands:cmd_prices_set")
    p = psub.add_parser(
        "coverage",
        help="how many Bedrock model ids of a public price catalogue are priced, and which not",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument(
        "--min", type=float, metavar="PERCENT", help="exit 1 below this coverage (for CI or cron)"
    )
    p.set_defaults(func="cli_commands:cmd_prices_coverage")

    p = psub.add_parser(
        "resolve", help="say which model an application inference profile (or custom model) runs"
    )
    p.add_argument("model_id", metavar="MODEL_ID", help="the raw id as logged (an ARN)")
    p.add_argument("--model", required=True, help="base model id it runs")
    p.add_argument(
        "--routing",
        choices=("in_region", "geo", "global"),
        help="what the profile routes to (default: from the model id given)",
    )
    p.set_defaults(func="cli_commands:cmd_prices_resolve")

    p = sub.add_parser(
        "iam-check", help="can these IAM policies read the log source? (exit 0 yes, 1 no)"
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--role", metavar="NAME", help="read this role's policies from IAM")
    source.add_argument(
        "--policy-file",
        action="append",
        metavar="FILE",
        help="an identity policy as JSON (repeat for several)",
    )
    p.add_argument("--boundary-file", metavar="FILE", help="with --policy-file: the boundary")
    p.add_argument("--profile", help="with --role: the AWS profile (default credential chain)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--log-group-arn", metavar="ARN", help="the Bedrock log group's ARN")
    where.add_argument("--bucket", help="the S3 bucket Bedrock delivers logs to")
    p.add_argument("--prefix", help="with --bucket: the key prefix of the delivery")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func="cli_commands:cmd_iam_check")

    p = psub.add_parser(
        "resolve-profiles",
        help="ask Bedrock (GetInferenceProfile) which model each application profile runs",
    )
    p.add_argument("--profile", help="the AWS profile to use (default credential chain if not)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_commands:cmd_prices_resolve_profiles")

    p = psub.add_parser("refresh", help="read on-demand prices from the AWS Price List API")
    p.add_argument(
        "--region",
        default=PRICE_LIST_REGION,
        help="whose prices to read (default: us-east-1, the region the built-in prices describe)",
    )
    p.add_argument(
        "--all-regions",
        action="store_true",
        help="read every source region the stored logs name, and us-east-1 (one request set each)",
    )
    p.add_argument("--profile", help="the AWS profile to use (default credential chain if not)")
    p.add_argument(
        "--json", action="store_true", help="print the report as JSON (a list with --all-regions)"
    )
    p.set_defaults(func="cli_commands:cmd_prices_refresh")

    p = psub.add_parser("map", help="tie a Price List model name to a model id")
    p.add_argument("name", metavar="NAME", help='as `prices refresh` printed it, e.g. "Nova Lite"')
    p.add_argument("model", metavar="MODEL", nargs="?", help="base model id")
    p.add_argument("--remove", action="store_true", help="untie the name")
    p.set_defaults(func="cli_commands:cmd_prices_map")

    p = sub.add_parser("audit", help="who changed what and when (CLI and dashboard), newest first")
    p.add_argument("--from", dest="date_from", type=date_argument, metavar="YYYY-MM-DD")
    p.add_argument(
        "--to", dest="date_to", type=date_argument, metavar="YYYY-MM-DD", help="inclusive (UTC)"
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func="cli_commands:cmd_audit")

    p = sub.add_parser("quarantine", help="malformed lines by reason, with a locator each")
    p.add_argument("--integration", metavar="NAME", help="only this integration")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_commands:cmd_quarantine")
    return parser


def _add_source_parsers(sub: Any) -> None:
    """Register ``integrations …`` and ``sync`` on the main parser."""
    integrations = sub.add_parser("integrations", help="where logs come from: add, list, test …")
    isub = integrations.add_subparsers(dest="integrations_command", required=True, metavar="ACTION")

    p = isub.add_parser("add", help="add a CloudWatch Logs, S3 or local-folder integration")
    p.add_argument("name", help="a short descriptive name, e.g. 'prod us-east-1'")
    # Each kind's fields: its first one says which kind is meant (one of them is required).
    where = p.add_mutually_exclusive_group(required=True)
    for kind in SOURCE_SETTINGS:
        for i, spec in enumerate(kind.fields):
            (where if i == 0 else p).add_argument(
                spec.flag,
                dest=spec.name,
                metavar=spec.flag.lstrip("-").replace("-", "_").upper(),
                action="append" if spec.repeatable else "store",
                help=spec.help,
            )
    p.add_argument("--region", help="the AWS region of the logs (default: the profile's)")
    p.add_argument("--profile", help="a named AWS profile (default: the default credential chain)")
    p.add_argument("--role-arn", help="a role to assume (cross-account access)")
    p.add_argument("--external-id", help="with --role-arn: the external id the role requires")
    p.add_argument("--session-name", help="with --role-arn: the role session name")
    p.add_argument(
        "--first-sync-days",
        type=int,
        default=DEFAULT_FIRST_SYNC_DAYS,
        help=f"how far back the first sync reaches (default {DEFAULT_FIRST_SYNC_DAYS} days)",
    )
    p.add_argument("--skip-test", action="store_true", help="save without the connection test")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_sources:cmd_add")

    p = isub.add_parser("list", help="integrations with status, volume and last sync")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_sources:cmd_list")

    p = isub.add_parser("show", help="one integration in detail")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_sources:cmd_show")

    p = isub.add_parser("test", help="the connection test: credentials, logging, source, sample")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_sources:cmd_test")

    p = isub.add_parser("remove", help="delete an integration and its stored invocations")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_sources:cmd_remove")

    p = sub.add_parser("sync", help="fetch new invocation logs (CloudWatch Logs, S3, folders)")
    p.add_argument("names", nargs="*", metavar="NAME", help="integrations to sync")
    p.add_argument("--all", action="store_true", help="every integration except demo data")
    p.add_argument(
        "--since",
        type=date_argument,
        metavar="YYYY-MM-DD",
        help="re-read from this date (nothing already stored is stored twice)",
    )
    p.add_argument("--json", action="store_true", help="print the summaries as JSON")
    p.set_defaults(func="cli_sources:cmd_sync")


def _add_report_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="cost grouped by model, day, identity … (CSV, JSON, table)")
    p.add_argument(
        "--group-by",
        metavar="DIMS",
        help="comma-separated: "
        + ", ".join(d.replace(" ", "_") for d in GROUP_BY)
        + "; plus one of hour, day, week, month (default: model)",
    )
    p.add_argument("--from", dest="date_from", type=date_argument, metavar="YYYY-MM-DD")
    p.add_argument(
        "--to", dest="date_to", type=date_argument, metavar="YYYY-MM-DD", help="inclusive"
    )
    p.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help=", ".join(d.cli_key for d in FILTERABLE)
        + "; any other key is a requestMetadata key (repeatable)",
    )
    p.add_argument("--meta-key", help="with --group-by metadata: the requestMetadata key")
    p.add_argument("--tz", default="UTC", help="display time zone for days (default UTC)")
    p.add_argument("--format", choices=("csv", "json", "table"), default="csv")
    p.add_argument("--detail", action="store_true", help="every invocation instead (CSV)")
    p.add_argument(
        "--basis",
        choices=("estimate", "billed"),
        default="estimate",
        help="estimate: list prices over the logs; billed: the imported bill's dollars "
        "allocated to the calls (needs `bill import` or `bill sync`)",
    )
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func="cli_report:cmd_report")


def _add_coverage_parser(sub: Any) -> None:
    p = sub.add_parser(
        "coverage",
        help="what the logs miss: logged vs AWS-measured invocations per region and day",
    )
    p.add_argument(
        "--integration", action="append", metavar="NAME",
        help="an AWS integration (repeatable; default: every AWS integration)",
    )  # fmt: skip
    p.add_argument("--from", dest="date_from", type=date_argument, metavar="YYYY-MM-DD",
                   help="first UTC day (default: 14 days before --to)")  # fmt: skip
    p.add_argument("--to", dest="date_to", type=date_argument, metavar="YYYY-MM-DD",
                   help="last UTC day, inclusive (default: today)")  # fmt: skip
    p.add_argument(
        "--region", action="append", metavar="REGION",
        help="also check this region (repeatable); regions with Bedrock metrics are found",
    )  # fmt: skip
    p.add_argument(
        "--no-refresh", action="store_true",
        help="print what the last refresh stored; ask AWS nothing",
    )  # fmt: skip
    p.add_argument(
        "--fail-below", type=float, metavar="PCT",
        help="exit 1 when the logs hold less than PCT %% of the measured invocations",
    )  # fmt: skip
    p.add_argument("--format", choices=("csv", "json", "table"), default="table")
    p.set_defaults(func="cli_coverage:cmd_coverage")


def _add_bill_parsers(sub: Any) -> None:
    bill = sub.add_parser("bill", help="the AWS bill: sync from Cost Explorer, import CUR 2.0")
    bsub = bill.add_subparsers(dest="bill_command", required=True, metavar="ACTION")
    p = bsub.add_parser("sync", help="read the Bedrock bill from Cost Explorer ($0.01/request)")
    p.add_argument("--integration", metavar="NAME",
                   help="whose credentials read it (default: the AWS integration)")  # fmt: skip
    p.add_argument("--from", dest="date_from", type=date_argument, metavar="YYYY-MM-DD",
                   help="first UTC day (default: the 1st of last month)")  # fmt: skip
    p.add_argument("--to", dest="date_to", type=date_argument, metavar="YYYY-MM-DD",
                   help="last UTC day, inclusive (default: today)")  # fmt: skip
    p.add_argument("--max-requests", type=int, metavar="N",
                   help="stop after N requests ($0.01 each); the next sync goes on")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func="cli_bill:cmd_bill_sync")
    p = bsub.add_parser("import", help="import CUR 2.0 / Data Exports files (Parquet, CSV, .gz)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="files, folders, or s3://bucket/prefix (read with the integration's "
                   "credentials)")  # fmt: skip
    p.add_argument("--integration", metavar="NAME",
                   help="the integration the bill belongs to (default: the only one)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func="cli_bill:cmd_bill_import")
    p = bsub.add_parser("list", help="the bill sources stored and the days they cover")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func="cli_bill:cmd_bill_list")

    p = sub.add_parser(
        "reconcile", help="estimate vs bill per day, model, meter, account; exit 1 on a mismatch"
    )
    p.add_argument("--from", dest="date_from", type=date_argument, metavar="YYYY-MM-DD",
                   help="first UTC day (default: the 1st of last month)")  # fmt: skip
    p.add_argument("--to", dest="date_to", type=date_argument, metavar="YYYY-MM-DD",
                   help="last UTC day, inclusive (default: today)")  # fmt: skip
    p.add_argument("--group-by", metavar="DIMS",
                   help="comma-separated: day, model, meter, account, region, routing, tier "
                   "(default: every one — the buckets themselves)")  # fmt: skip
    p.add_argument("--integration", action="append", metavar="NAME",
                   help="only these integrations (repeatable; default: all)")  # fmt: skip
    p.add_argument("--tolerance", type=float, default=2.0, metavar="PCT",
                   help="a bucket within PCT %% of its bill is reconciled (default 2)")  # fmt: skip
    p.add_argument("--format", choices=("csv", "json", "table"), default="table")
    p.set_defaults(func="cli_bill:cmd_reconcile")
