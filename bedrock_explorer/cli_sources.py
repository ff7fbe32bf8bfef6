"""CLI commands for integrations and syncing: ``integrations add|list|show|test|remove``, ``sync``.

Exit codes for cron: 0 everything synced, 1 at least one integration failed (each failure is one
line on stderr naming the fix), 2 bad arguments. Output is quiet on a non-terminal except for one
summary line per integration.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import boto3

from bedrock_explorer.cli_output import Bar, emit, print_json, records
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.integration_list import integrations_frame, source_label
from bedrock_explorer.sources import registry
from bedrock_explorer.sources.settings import Auth, RemoteSettings, SourceSettings, shown_config
from bedrock_explorer.store import Store
from bedrock_explorer.sync import sync_integration
from bedrock_explorer.verify import ConnectionReport, check_connection

_MARKS = {"pass": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def settings_from_args(args: argparse.Namespace) -> SourceSettings:
    """The source settings given on the command line, validated."""
    if args.role_arn:
        auth = Auth(
            "role",
            profile=args.profile,
            role_arn=args.role_arn,
            external_id=args.external_id,
            session_name=args.session_name or "bedrock-explorer",
        )
    elif args.profile:
        auth = Auth("profile", profile=args.profile)
    else:
        auth = Auth()
    # the kind whose first field was given (argparse lets exactly one through)
    kind = next(k for k in registry.SETTINGS if getattr(args, k.fields[0].name, None))
    fields = kind.field_values({spec.name: getattr(args, spec.name, None) for spec in kind.fields})
    settings: SourceSettings
    if issubclass(kind, RemoteSettings):
        region = args.region or boto3.Session(profile_name=args.profile).region_name
        settings = kind(region=region, auth=auth, first_sync_days=args.first_sync_days, **fields)
    else:
        settings = kind(**fields)
    settings.validate()
    return settings


def print_report(report: ConnectionReport) -> None:
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        print(f"{_MARKS[check.status]} {check.name:<{width}}  {check.message}")
        if check.fix:
            print(f"     {'':<{width}}  → {check.fix}")


def cmd_add(args: argparse.Namespace, store: Store) -> int:
    settings = settings_from_args(args)
    if store.find_integration(args.name):
        raise UserFacingError(
            f"An integration named {args.name!r} already exists", "choose another name"
        )
    if settings.remote and not args.skip_test:
        report = check_connection(settings)
        if not args.json:
            print_report(report)
        if not report.ok:
            if args.json:
                print_json({"saved": False, "report": report.as_dict()})
            print(
                "\nNot saved: fix what failed, or add --skip-test to save it anyway.",
                file=sys.stderr,
            )
            return 1
    integ = store.add_integration(args.name, settings.kind, settings.to_config())
    if args.json:
        print_json({"saved": True, "integration": integ.name, "config": shown_config(integ.config)})
    else:
        how = f", {settings.auth.describe()}" if isinstance(settings, RemoteSettings) else ""
        print(f"\nSaved {integ.name!r}: {settings.describe()}{how}.")
        print(f"First sync: python -m bedrock_explorer sync {_quote(integ.name)}")
    return 0


def _quote(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else repr(name)


def cmd_list(args: argparse.Namespace, store: Store) -> int:
    frame = integrations_frame(store)
    if not args.json:
        frame = frame[
            [
                "integration",
                "status",
                "source",
                "invocations",
                "cost_usd",
                "first_invocation",
                "last_invocation",
                "last_sync_finished_at",
            ]
        ]
    return emit(
        frame,
        args.json,
        "No integrations yet. Add one: python -m bedrock_explorer integrations add NAME "
        "--log-group GROUP --region REGION (or --bucket BUCKET, or --path FOLDER)",
    )


def cmd_show(args: argparse.Namespace, store: Store) -> int:
    integ = store.get_integration(args.name)
    frame = integrations_frame(store)
    row = frame[frame["integration"] == integ.name]
    data = {
        "integration": integ.name,
        "kind": integ.kind,
        "source": source_label(integ.kind, integ.config),
        "config": shown_config(integ.config),
        **records(row)[0],
        "checkpoints": len(store.checkpoints(integ.id)),
    }
    if args.json:
        print_json(data)
        return 0
    width = max(len(k) for k in data)
    for key, value in data.items():
        if key != "config":
            print(f"{key:<{width}}  {'' if value is None else value}")
    settings = (
        registry.settings_from_config(integ.kind, integ.config) if integ.kind != "demo" else None
    )
    if isinstance(settings, RemoteSettings):
        print(f"{'authentication':<{width}}  {settings.auth.describe()}")
    return 0


def cmd_test(args: argparse.Namespace, store: Store) -> int:
    integ = store.get_integration(args.name)
    if not registry.reads_aws(integ.kind):
        raise UserFacingError(
            f"{integ.name!r} reads {integ.kind} data: there is no AWS connection to test",
            f"test an integration reading a {registry.AWS_LABELS}",
        )
    report = check_connection(registry.settings_from_config(integ.kind, integ.config))
    if args.json:
        print_json(report.as_dict())
    else:
        print_report(report)
    return 0 if report.ok else 1


def cmd_remove(args: argparse.Namespace, store: Store) -> int:
    integ = store.get_integration(args.name)
    count = store.invocation_count(integ.id)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserFacingError(
                f"Removing {integ.name!r} deletes its {count:,} invocations",
                "add --yes to confirm",
            )
        answer = input(f"Delete {integ.name!r} and its {count:,} stored invocations? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing removed.")
            return 1
    removed = store.remove_integration(integ.name)
    if args.json:
        print_json({"removed": integ.name, "invocations": removed})
    else:
        print(f"Removed {integ.name!r} and its {removed:,} invocations.")
    return 0


def cmd_sync(args: argparse.Namespace, store: Store) -> int:
    if args.all:
        names = [i.name for i in store.list_integrations() if not i.is_demo]
        if not names:
            raise UserFacingError("There is no integration to sync", "add one first")
    elif args.names:
        names = args.names
    else:
        raise UserFacingError("Which integration?", "name one or more, or use --all")
    since = datetime.combine(args.since, datetime.min.time(), tzinfo=UTC) if args.since else None
    failed = 0
    summaries = []
    for name in names:
        bar = Bar(not args.json and sys.stderr.isatty())
        try:
            summary = sync_integration(store, name, since=since, progress=bar)
        except UserFacingError as err:
            bar.close()
            failed += 1
            print(f"error: {name}: {err}", file=sys.stderr)
            summaries.append({"integration": name, "ok": False, "error": str(err)})
            continue
        bar.close()
        summaries.append({"ok": True, **summary.as_dict()})
        if not args.json:
            print(summary.describe())
    if args.json:
        print_json(summaries)
    return 1 if failed else 0
