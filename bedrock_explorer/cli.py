"""``python -m bedrock_explorer`` — everything a script or a cron job needs.

Conventions: a failure the user can fix prints one line ``error: … — fix`` on stderr and exits 1;
bad arguments exit 2 (argparse); ``--json`` prints one JSON document on stdout for scripts; progress
bars go to stderr and only when it is a terminal, so cron mail stays clean.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bedrock_explorer import __version__, audit, aws, cli_report, cli_sources, demo, export, queries
from bedrock_explorer.cli_output import Bar, date_argument, emit, print_json, print_table, records
from bedrock_explorer.config import DB_ENV_VAR, private_files, resolve_db_path
from bedrock_explorer.errors import UserFacingError, explain_failure
from bedrock_explorer.iam import live
from bedrock_explorer.iam.checker import BucketTarget, Check, LogGroupTarget, Need, policy_json
from bedrock_explorer.iam.checker import report as iam_report
from bedrock_explorer.iam.evaluator import Policy, Verdict, load_document
from bedrock_explorer.ingest import ImportSummary, import_paths
from bedrock_explorer.pricing import book, coverage, price_list, profiles
from bedrock_explorer.pricing.units import Meter
from bedrock_explorer.store import Store


def _print_summary(summary: ImportSummary, as_json: bool) -> None:
    if as_json:
        print_json(summary.as_dict())
    else:
        print(summary.describe())
        if summary.quarantined:
            print(
                "  quarantined lines: python -m bedrock_explorer quarantine "
                f"--integration {json.dumps(summary.integration)}"
            )


def cmd_import(args: argparse.Namespace, store: Store) -> int:
    bar = Bar(not args.json and sys.stderr.isatty())
    try:
        summary = import_paths(store, args.paths, args.integration, force=args.force, progress=bar)
    finally:
        bar.close()
    _print_summary(summary, args.json)
    return 0


def cmd_demo(args: argparse.Namespace, store: Store) -> int:
    if args.remove:
        removed = demo.remove_demo(store)
        if args.json:
            print_json({"removed_invocations": removed})
        else:
            print(f"Removed the demo data ({removed:,} invocations).")
        return 0
    bar = Bar(not args.json and sys.stderr.isatty())
    try:
        summary = demo.load_demo(store, days=args.days, seed=args.seed, progress=bar)
    finally:
        bar.close()
    if args.json:
        print_json(summary.as_dict())
    else:
        print(
            f"Loaded demo data into {len(summary.integrations)} integrations: "
            f"{summary.inserted:,} invocations, {summary.quarantined} malformed lines "
            f"quarantined (on purpose), {summary.seconds:.1f} s. "
            "Remove it with: python -m bedrock_explorer demo --remove"
        )
    return 0


def cmd_stats(args: argparse.Namespace, store: Store) -> int:
    frame = queries.integration_stats(store)
    if args.json:
        print_json({"database": str(store.path), "integrations": records(frame)})
        return 0
    print(f"Database: {store.path}")
    print_table(
        frame,
        "No integrations yet. Import logs (import PATH --integration NAME) "
        "or load the demo data (demo).",
    )
    return 0


def cmd_quarantine(args: argparse.Namespace, store: Store) -> int:
    integ = store.get_integration(args.integration) if args.integration else None
    frame = store.quarantine_summary(integ.id if integ else None)
    return emit(frame, args.json, "No quarantined lines.")


def cmd_prices_list(args: argparse.Namespace, store: Store) -> int:
    frame = queries.price_list(store, args.model)
    return emit(
        frame, args.json, "No models seen yet: prices are compiled for the models in your logs."
    )


def cmd_prices_unpriced(args: argparse.Namespace, store: Store) -> int:
    frame = queries.unpriced_models(store)
    return emit(frame, args.json, "Every invocation is priced (or provisioned).")


def cmd_prices_coverage(args: argparse.Namespace, store: Store) -> int:
    report = coverage.measure(store, datetime.now(UTC).date())
    if args.json:
        print_json(report.as_dict())
    else:
        print(
            f"Priced: {report.priced:,} of the {report.total:,} Bedrock model ids in "
            f"{report.source}'s price map ({report.percent:.1f}%), each in a region it is "
            "called from, at today's rates."
        )
        if report.missing:
            print("\nNot priced:")
            for item in report.missing:
                print(f"  {item['model_id']} ({item['region']}): {item['reason']}")
            print(
                "\nSet a price with: python -m bedrock_explorer prices set MODEL --input … "
                "--from YYYY-MM-DD"
            )
    return 1 if args.min is not None and report.percent < args.min else 0


_METER_OPTIONS = {
    "input": Meter.INPUT,
    "output": Meter.OUTPUT,
    "cache_read": Meter.CACHE_READ,
    "cache_write": Meter.CACHE_WRITE,
    "cache_write_1h": Meter.CACHE_WRITE_1H,
    "image": Meter.IMAGE,
}


def cmd_prices_set(args: argparse.Namespace, store: Store) -> int:
    prices = {
        meter: Decimal(value)
        for option, meter in _METER_OPTIONS.items()
        if (value := getattr(args, option)) is not None
    }
    book.set_override(
        store,
        args.model,
        prices,
        effective_from=args.from_date,
        routing_class=args.routing,
        tier=args.tier,
        region=args.region,
        note=args.note,
    )
    given = ", ".join(f"{m} {v}" for m, v in prices.items())
    where = "every region" if args.region == "*" else args.region
    print(
        f"Price set for {args.model} ({args.routing}, {args.tier}, {where}) from "
        f"{args.from_date}: "
        f"{given} (USD per 1M tokens; image per image). History before keeps its price."
    )
    return 0


def cmd_prices_resolve(args: argparse.Namespace, store: Store) -> int:
    book.resolve_model_id(store, args.model_id, args.model, args.routing)
    print(f"{args.model_id} now prices as {args.model}; its history is re-priced.")
    return 0


def cmd_iam_check(args: argparse.Namespace, store: Store | None) -> int:
    if args.log_group_arn:
        target: LogGroupTarget | BucketTarget = LogGroupTarget.from_arn(args.log_group_arn)
    else:
        target = BucketTarget(args.bucket, args.prefix or "")
    if args.role:
        iam = aws.client(aws.session(args.profile), "iam")
        role = live.read_role(iam, args.role)
        result = iam_report(role.policies, target, role.boundary)
        simulator = aws.client(aws.session(args.profile), "iam", attempts=2)
        simulated = live.simulate(simulator, role.role_arn, result.checks)
        if not args.json:
            read = ", ".join(f"{p.name} ({p.kind})" for p in role.policies) or "no policies"
            extra = f"; boundary {role.boundary.name}" if role.boundary else ""
            print(f"Role {role.role_name}: {read}{extra}")
            if not simulated:
                print("(IAM's policy simulator could not be used: our verdicts only)")
    else:
        policies = [_read_policy(path, "pasted") for path in args.policy_file]
        boundary = _read_policy(args.boundary_file, "boundary") if args.boundary_file else None
        result = iam_report(policies, target, boundary)
    if args.json:
        print_json(result.as_dict())
        return 0 if result.ok else 1
    width = max(len(c.requirement.action) for c in result.checks)
    for c in result.checks:
        verdict = f"{c.decision.verdict}: {c.decision.reason}"
        print(f"{_flag(c)} {c.requirement.action:<{width}}  {verdict}")
        if c.disagrees:
            print(f"     ! IAM's policy simulator says: {c.simulated}")
    for note in result.notes:
        print(f"\nNote: {note}")
    for rewrite in result.deny_rewrites:
        print(
            f"\nThe Deny {rewrite['statement']!r} in {rewrite['policy']} blocks "
            f"{', '.join(rewrite['blocks'])}. {rewrite['note']} {rewrite['still_denies']}".rstrip()
        )
        if rewrite["policy_document"] is not None:
            print(f"Replace the policy {rewrite['policy']} with (checked with the evaluator):")
            print(policy_json(rewrite["policy_document"]))
    if result.fix_policy:
        print("\nAttach this policy to the integration's role (minimal, read-only):")
        print(policy_json(result.fix_policy))
    print("\nNo change is made to AWS: paste the policies yourself.")
    return 0 if result.ok else 1


def _flag(check: Check) -> str:
    """``ok``, ``FAIL`` (required), ``warn`` (helpful), ``opt`` or ``--`` (not needed)."""
    if check.requirement.need == Need.NOT_NEEDED:
        return "--  "
    if check.decision.verdict == Verdict.ALLOWED:
        return "ok  "
    return {Need.REQUIRED: "FAIL", Need.HELPFUL: "warn"}.get(check.requirement.need, "opt ")


def _read_policy(path: str, kind: str) -> Policy:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise UserFacingError(f"Cannot read {path}: {err.strerror}", "check the path") from err
    return Policy(Path(path).stem, load_document(text), kind)


def cmd_audit(args: argparse.Namespace, store: Store) -> int:
    start = datetime.combine(args.date_from, time.min) if args.date_from else None
    end = datetime.combine(args.date_to + timedelta(days=1), time.min) if args.date_to else None
    frame = audit.trail(store.con, start, end)
    if args.format == "json":
        print_json(records(frame))
    elif args.format == "csv":
        sys.stdout.write(export.neutralise(frame).to_csv(index=False))
    elif frame.empty:
        print("Nothing recorded in this period.")
    else:
        print(frame.to_string(index=False))
    return 0


def cmd_prices_resolve_profiles(args: argparse.Namespace, store: Store) -> int:
    results = profiles.resolve_profiles(store, profile=args.profile)
    if args.json:
        print_json([r.__dict__ for r in results])
    elif not results:
        print("No application inference profile to resolve.")
    for r in results if not args.json else []:
        if r.error:
            print(f"{r.model_id}: not resolved — {r.error}")
        else:
            print(f"{r.model_id}: runs {r.base_model} ({r.routing}); history re-priced")
    return 1 if any(r.error for r in results) else 0


def cmd_prices_refresh(args: argparse.Namespace, store: Store) -> int:
    report = price_list.refresh_from_aws(store, args.region, args.profile)
    if args.json:
        print_json(report.as_dict())
        return 0
    print(
        f"AWS Price List, {report.region}: {report.products:,} products, "
        f"{report.offers:,} on-demand token rates; {report.stored:,} stored, "
        f"{report.unchanged:,} unchanged, for {len(report.models):,} models."
    )
    for reason, count in report.skipped.most_common():
        print(f"  skipped {count:,}: {reason}")
    if report.unmatched:
        print("Names not tied to a model id (their rates are not used):")
        for name, count in report.unmatched.items():
            print(f"  {name} ({count} rates)")
        print('Tie one with: python -m bedrock_explorer prices map "NAME" MODEL_ID')
    for line in report.held_back:
        print(f"held back: {line}")
    return 0


def cmd_prices_map(args: argparse.Namespace, store: Store) -> int:
    if not args.remove and not args.model:
        raise UserFacingError("No model id given", 'use: prices map "NAME" MODEL_ID (or --remove)')
    price_list.map_name(store, args.name, None if args.remove else args.model)
    if args.remove:
        print(f"{args.name!r} is no longer tied to a model id.")
    else:
        print(f"{args.name!r} now prices {args.model}; run `prices refresh` to read its rates.")
    return 0


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
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("demo", help="load (or --remove) the labelled demo data")
    p.add_argument("--remove", action="store_true", help="remove the demo data")
    p.add_argument("--days", type=int, default=demo.DEFAULT_DAYS, help="days of history")
    p.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="random seed")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_demo)

    cli_sources.add_parsers(sub)
    cli_report.add_parser(sub)

    p = sub.add_parser("stats", help="per integration: invocations, date range, quarantined lines")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_stats)

    prices = sub.add_parser("prices", help="the prices used, overrides, unpriced models")
    psub = prices.add_subparsers(dest="prices_command", required=True, metavar="ACTION")
    p = psub.add_parser("list", help="compiled prices per model id seen, with their source")
    p.add_argument("--model", help="only model ids containing this text")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_prices_list)
    p = psub.add_parser("unpriced", help="models seen without a price, with their token volume")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_prices_unpriced)
    p = psub.add_parser(
        "set", help="your own price from a date on (token prices per 1M tokens, images per image)"
    )
    p.add_argument("model", metavar="MODEL", help="base model id, e.g. amazon.nova-pro-v1:0")
    for option in _METER_OPTIONS:
        unit = "USD per image" if option == "image" else "USD per 1M tokens"
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
    p.add_argument("--tier", default="standard", choices=book.PRICED_TIERS)
    p.add_argument(
        "--region",
        default="*",
        help="source region (eu-west-1) or geography (eu, apac, us-gov …) the price is for "
        "(default: * = every region without a price of its own)",
    )
    p.add_argument("--note", help="why (shown as the price's note)")
    p.set_defaults(func=cmd_prices_set)
    p = psub.add_parser(
        "coverage",
        help="how many Bedrock model ids of a public price catalogue are priced, and which not",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument(
        "--min", type=float, metavar="PERCENT", help="exit 1 below this coverage (for CI or cron)"
    )
    p.set_defaults(func=cmd_prices_coverage)

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
    p.set_defaults(func=cmd_prices_resolve)

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
    p.set_defaults(func=cmd_iam_check)

    p = psub.add_parser(
        "resolve-profiles",
        help="ask Bedrock (GetInferenceProfile) which model each application profile runs",
    )
    p.add_argument("--profile", help="the AWS profile to use (default credential chain if not)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_prices_resolve_profiles)

    p = psub.add_parser("refresh", help="read on-demand prices from the AWS Price List API")
    p.add_argument(
        "--region",
        default=price_list.DEFAULT_REGION,
        help="whose prices to read (default: us-east-1, the region the built-in prices describe)",
    )
    p.add_argument("--profile", help="the AWS profile to use (default credential chain if not)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_prices_refresh)

    p = psub.add_parser("map", help="tie a Price List model name to a model id")
    p.add_argument("name", metavar="NAME", help='as `prices refresh` printed it, e.g. "Nova Lite"')
    p.add_argument("model", metavar="MODEL", nargs="?", help="base model id")
    p.add_argument("--remove", action="store_true", help="untie the name")
    p.set_defaults(func=cmd_prices_map)

    p = sub.add_parser("audit", help="who changed what and when (CLI and dashboard), newest first")
    p.add_argument("--from", dest="date_from", type=date_argument, metavar="YYYY-MM-DD")
    p.add_argument(
        "--to", dest="date_to", type=date_argument, metavar="YYYY-MM-DD", help="inclusive (UTC)"
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("quarantine", help="malformed lines by reason, with a locator each")
    p.add_argument("--integration", metavar="NAME", help="only this integration")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_quarantine)
    return parser


#: Commands that only read stored data: a mistyped --db must not create an empty database and
#: report on it. (``prices coverage`` measures the bundled catalogue, which a new file holds.)
READ_ONLY = {
    cmd_stats,
    cli_report.cmd_report,
    cmd_quarantine,
    cmd_prices_list,
    cmd_prices_unpriced,
    cmd_audit,
}
#: Commands that need no database at all.
NO_DATABASE = {cmd_iam_check}


def main(argv: Sequence[str] | None = None) -> int:
    private_files()
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, Store], int] = args.func
    try:
        if func in NO_DATABASE:
            return func(args, None)  # type: ignore[arg-type]
        path = resolve_db_path(args.db)
        if func in READ_ONLY and not path.exists():
            raise UserFacingError(
                f"There is no database at {path}",
                "check --db or BEDROCK_EXPLORER_DB; `sync`, `import` or `demo` create one",
            )
        with Store(path) as store:
            store.actor = audit.os_actor("cli")
            for warning in store.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            return func(args, store)
    except UserFacingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted: what was committed before stays; run the command again to resume",
            file=sys.stderr,
        )
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, no traceback
        print(f"error: {explain_failure(err, resolve_db_path(args.db))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
