"""``bill sync``, ``bill import``, ``bill list`` and ``reconcile``: the AWS bill beside the logs.

``reconcile`` prints the same buckets as the Explorer's *Estimate vs bill* section and exits 1
when a closed bucket (its bill final) is a mismatch, so a cron job mails finance only then.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bedrock_explorer.cli_output import json_default, readable, records
from bedrock_explorer.display import money
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.store import Store


def _default_window(args: argparse.Namespace, today: date) -> tuple[date, date]:
    end = args.date_to or today
    first_of_month = end.replace(day=1)
    start = args.date_from or (first_of_month - timedelta(days=1)).replace(day=1)
    if start > end:
        raise UserFacingError("--from is after --to", "give --from on or before --to")
    return start, end


def _integration(store: Store, name: str | None, *, aws_only: bool) -> str:
    from bedrock_explorer.sources import registry

    if name:
        integ = store.get_integration(name)
        if aws_only and not registry.reads_aws(integ.kind):
            raise UserFacingError(
                f"{name!r} reads local files, so it has no AWS credentials for Cost Explorer",
                "name a CloudWatch Logs or S3 integration, or import the CUR files instead",
            )
        return integ.name
    found = [
        i
        for i in store.list_integrations()
        if not i.is_demo and (registry.reads_aws(i.kind) or not aws_only)
    ]
    if len(found) != 1:
        kind = "AWS integration" if aws_only else "integration"
        names = ", ".join(i.name for i in found) or "none yet"
        raise UserFacingError(
            f"Say which {kind} the bill belongs to ({names})", "add --integration NAME"
        )
    return found[0].name


def cmd_bill_sync(args: argparse.Namespace, store: Store, now: datetime | None = None) -> int:
    from bedrock_explorer.bill import cost_explorer
    from bedrock_explorer.sync import integration_session

    now = now or datetime.now(UTC).replace(tzinfo=None)
    start, end = _default_window(args, now.date())
    if args.max_requests is not None and args.max_requests < 1:
        raise UserFacingError("--max-requests must be at least 1", "e.g. --max-requests 20")
    name = _integration(store, args.integration, aws_only=True)
    session = integration_session(store.get_integration(name))
    got = cost_explorer.sync(
        store,
        name,
        session,
        start,
        end,
        max_requests=args.max_requests,
        now=now,
        progress=lambda message: print(message, file=sys.stderr),
    )
    summary = {**asdict(got), "request_cost": got.request_cost, "integration": name}
    if args.json:
        print(json.dumps(summary, indent=2, default=json_default))
    else:
        print(
            f"{name}: {got.requests} Cost Explorer requests (${got.request_cost:.2f}), "
            f"{len(got.services)} Bedrock services, {got.days} days, {got.lines:,} lines, "
            f"{money(got.unblended_cost)} billed"
        )
        if got.requests == 0:
            print("Every day asked for is already stored with its final bill.")
    if got.capped:
        print(
            f"Stopped at --max-requests {args.max_requests}; run `bill sync` again to go on "
            f"(not read yet: {', '.join(got.remaining)})",
            file=sys.stderr,
        )
    return 0


def cmd_bill_import(args: argparse.Namespace, store: Store) -> int:
    from bedrock_explorer.bill import cur_files
    from bedrock_explorer.sources import registry
    from bedrock_explorer.sync import integration_session

    name = _integration(store, args.integration, aws_only=False)
    remote = [p for p in args.paths if p.startswith("s3://")]
    local = [p for p in args.paths if not p.startswith("s3://")]
    errors: list[str] = []
    done = 0

    def progress(message: str) -> None:
        nonlocal done
        done += 1
        print(f"[{done}] {message}", file=sys.stderr)

    total = cur_files.import_files(
        store, name, cur_files.local_files(local, errors), progress=progress, errors=errors
    )
    for uri in remote:
        integ = store.get_integration(name)
        if not registry.reads_aws(integ.kind):
            raise UserFacingError(
                f"{name!r} has no AWS credentials to read {uri}",
                "name an AWS integration with --integration, or download the files first",
            )
        session = integration_session(integ)
        got = cur_files.import_s3(store, name, uri, session, progress=progress)
        for field in ("files", "imported", "unchanged", "lines"):
            setattr(total, field, getattr(total, field) + getattr(got, field))
        total.unblended_cost += got.unblended_cost
        total.errors.extend(got.errors)
    if args.json:
        print(json.dumps({**asdict(total), "integration": name}, indent=2))
    else:
        print(
            f"{name}: {total.files} files — {total.imported} imported, {total.unchanged} "
            f"unchanged; {total.lines:,} Bedrock bill lines, {money(total.unblended_cost)}"
        )
    for error in total.errors:
        print(f"warning: {error}", file=sys.stderr)
    if total.files == 0 and not total.errors:
        raise UserFacingError(
            "No CUR data file was found (.parquet, .csv, .csv.gz)",
            "point at the export's folder (…/data/BILLING_PERIOD=YYYY-MM/) or its files",
        )
    return 1 if total.errors and not total.imported and not total.unchanged else 0


def cmd_bill_list(args: argparse.Namespace, store: Store) -> int:
    from bedrock_explorer.bill import lines

    frame = lines.sources(store)
    if args.json:
        print(json.dumps(records(frame), indent=2, default=json_default))
    elif frame.empty:
        print("No bill yet: `bill import PATH` (CUR 2.0 files) or `bill sync` (Cost Explorer).")
    else:
        print(readable(frame).to_string(index=False))
    return 0


#: The columns ``reconcile`` prints, in order.
RECONCILE_COLUMNS = (
    "estimated_cost",
    "billed_cost",
    "net_billed_cost",
    "logged_quantity",
    "billed_quantity",
    "variance",
    "variance_pct",
    "quantity_variance",
    "rate_variance",
    "discount",
    "status",
)


def cmd_reconcile(args: argparse.Namespace, store: Store, now: datetime | None = None) -> int:
    from bedrock_explorer.bill import reconcile

    now = now or datetime.now(UTC).replace(tzinfo=None)
    start, end = _default_window(args, now.date())
    by = [p.strip() for p in (args.group_by or ",".join(reconcile.GROUPINGS)).split(",") if p]
    unknown = [b for b in by if b not in reconcile.GROUPINGS]
    if unknown:
        raise UserFacingError(
            f"Unknown --group-by {unknown[0]!r}", f"use {', '.join(reconcile.GROUPINGS)}"
        )
    if not 0 <= args.tolerance <= 100:
        raise UserFacingError("--tolerance is a percentage", "e.g. --tolerance 2")
    for name in args.integration or []:
        store.get_integration(name)
    window = reconcile.Window(start, end, tuple(args.integration or ()))
    tolerance = args.tolerance / 100
    if not reconcile.covered_days(store, window):
        raise UserFacingError(
            f"No bill covers {start} to {end}",
            "import the CUR 2.0 export (`bill import PATH`) or read Cost Explorer (`bill sync`)",
        )
    finest = reconcile.buckets(store, window, tolerance=tolerance, now=now)
    summary = reconcile.summary(store, window, tolerance=tolerance, now=now, finest=finest)
    assert summary is not None  # (a bill covers the window)
    frame = reconcile.grouped(store, window, by, tolerance=tolerance, now=now, finest=finest)
    dims = [reconcile.GROUPINGS[b] for b in by]
    frame = frame[[*dims, *RECONCILE_COLUMNS]].sort_values(dims, kind="stable")
    if args.format == "csv":
        from bedrock_explorer.export import neutralise

        sys.stdout.write(neutralise(frame).to_csv(index=False))
    elif args.format == "json":
        out: dict[str, Any] = {"summary": summary, "buckets": records(frame)}
        print(json.dumps(out, indent=2, default=json_default))
    else:
        print(readable(frame).to_string(index=False))
        print(
            f"\nEstimate {money(summary['estimated_cost'])} vs billed "
            f"{money(summary['billed_cost'])} (net {money(summary['net_billed_cost'])}) over "
            f"{summary['days_compared']} days the bill covers"
        )
        if summary["days_not_in_bill"]:
            print(
                f"{summary['days_not_in_bill']} days of the period have no bill and are not "
                "compared"
            )
        counts = ", ".join(f"{n} {s}" for s, n in summary["statuses"].items() if n)
        print(f"Buckets: {counts}")
    failing = finest[finest["status"].isin(reconcile.FAILING)]
    if len(failing):
        print(
            f"{len(failing)} closed buckets do not match the bill (tolerance {args.tolerance}%)",
            file=sys.stderr,
        )
        return 1
    return 0
