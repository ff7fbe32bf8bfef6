"""``coverage``: read what AWS measured (unless ``--no-refresh``), then print logged vs
measured per integration, region, UTC day and model id — the same figures as the Integrations
page's Coverage panel — and exit 1 below ``--fail-below`` (for cron)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bedrock_explorer.cli_output import json_default, readable, records
from bedrock_explorer.display import money
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.store import Store


def _window(args: argparse.Namespace, today: date) -> tuple[date, date]:
    end = args.date_to or today
    start = args.date_from or end - timedelta(days=13)
    if start > end:
        raise UserFacingError("--from is after --to", "give --from on or before --to")
    return start, end


def cmd_coverage(args: argparse.Namespace, store: Store, now: datetime | None = None) -> int:
    from bedrock_explorer.coverage import measure, report
    from bedrock_explorer.sources import registry
    from bedrock_explorer.sync import integration_session

    now = now or datetime.now(UTC)
    start, end = _window(args, now.date())
    chosen = [store.get_integration(n) for n in args.integration or []]
    if args.integration:
        for integ in chosen:
            measure.require_aws(integ.kind)
    else:
        chosen = [i for i in store.list_integrations() if registry.reads_aws(i.kind)]
    if not chosen:
        raise UserFacingError(
            "No AWS integration to measure (coverage compares the logs with AWS's metrics)",
            "add a CloudWatch Logs or S3 integration: `integrations add`",
        )
    names = tuple(i.name for i in chosen)
    if not args.no_refresh:
        for integ in chosen:
            session = integration_session(integ)
            got = measure.refresh(
                store, integ.name, session, start, end, regions=args.region or (), now=now
            )
            print(
                f"{integ.name}: {len(got.regions)} regions read, {got.metrics_asked:,} metrics "
                f"asked in {got.metric_requests} GetMetricData requests",
                file=sys.stderr,
            )
            for error in got.errors:
                print(f"warning: {error}", file=sys.stderr)
    frame = report.daily(store, start, end, names)
    regions = report.logging_status(store, names)
    overall = report.summary(store, start, end, names)
    _print(args.format, frame, regions, overall)
    if args.fail_below is not None and overall and overall["coverage_pct"] < args.fail_below:
        print(
            f"coverage {overall['coverage_pct']}% is below --fail-below {args.fail_below}%",
            file=sys.stderr,
        )
        return 1
    return 0


def _print(fmt: str, frame: Any, regions: Any, overall: dict[str, Any] | None) -> None:
    if fmt == "csv":
        from bedrock_explorer.export import neutralise

        sys.stdout.write(neutralise(frame).to_csv(index=False))
        return
    if fmt == "json":
        print(
            json.dumps(
                {"summary": overall, "regions": records(regions), "days": records(frame)},
                indent=2,
                default=json_default,
            )
        )
        return
    if not regions.empty:
        shown = regions[["integration", "region", "logging_on", "log_group", "bucket",
                         "text_delivery", "fix"]]  # fmt: skip
        print(readable(shown).to_string(index=False))
        print()
    if frame.empty:
        print("Nothing measured in this period.")
        return
    columns = [
        "integration", "region", "day", "model_id", "logged_invocations",
        "measured_invocations", "coverage_pct", "missing_invocations", "missing_cost",
    ]  # fmt: skip
    print(readable(frame[columns]).to_string(index=False))
    if overall:
        print(
            f"\nLogs cover {overall['coverage_pct']}% of measured invocations "
            f"({overall['logged_invocations']:,} of {overall['measured_invocations']:,}); "
            f"missing: {overall['missing_invocations']:,} invocations, "
            f"{money(overall['missing_cost'])} at our rates"
        )
        if overall["regions_without_logging"]:
            print("Regions without logging: " + ", ".join(overall["regions_without_logging"]))
        if overall["delivery_failures"]:
            print(f"Log delivery failures: {overall['delivery_failures']:,}")
    print(f"\n{_definition()}")


def _definition() -> str:
    from bedrock_explorer.coverage.report import DEFINITION

    return DEFINITION
