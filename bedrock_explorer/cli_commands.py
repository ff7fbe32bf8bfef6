"""The CLI's commands (``import``, ``demo``, ``stats``, ``prices …``, ``iam-check``, ``audit``,
``quarantine``); ``cli_sources`` has ``integrations …`` and ``sync``, ``cli_report`` ``report``.

Loaded only when a command runs (``cli.main`` imports it by name), so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from bedrock_explorer import aws, demo, export, queries
from bedrock_explorer.cli_output import Bar, emit, print_json, print_table, records
from bedrock_explorer.cli_parser import METER_OPTIONS
from bedrock_explorer.errors import UserFacingError
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


#: ``prices set --input …`` options → what they price (each option is named as its meter).
_METER_OPTIONS = {option: Meter(option) for option in METER_OPTIONS}


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
        checked = live.check_role(aws.session(args.profile), args.role, target)
        role, result, simulated = checked.role, checked.report, checked.simulated
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
    frame = store.audit_trail(start, end)
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
    regions = price_list.regions_in_data(store) if args.all_regions else [args.region]
    reports = price_list.refresh_regions_from_aws(store, regions, args.profile)
    if args.json:
        dicts = [r.as_dict() for r in reports]
        print_json(dicts if args.all_regions else dicts[0])
        return 0
    for report in reports:
        _print_refresh(report)
    return 0


def _print_refresh(report: price_list.RefreshReport) -> None:
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


def cmd_prices_map(args: argparse.Namespace, store: Store) -> int:
    if not args.remove and not args.model:
        raise UserFacingError("No model id given", 'use: prices map "NAME" MODEL_ID (or --remove)')
    price_list.map_name(store, args.name, None if args.remove else args.model)
    if args.remove:
        print(f"{args.name!r} is no longer tied to a model id.")
    else:
        print(f"{args.name!r} now prices {args.model}; run `prices refresh` to read its rates.")
    return 0
