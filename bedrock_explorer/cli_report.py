"""``python -m bedrock_explorer report``: the Explorer's grouped table and detail rows, scripted.

Same functions as the Explorer page, so a cron report and a CSV downloaded from the screen agree
to the cent. ``--group-by`` takes dimensions and at most one time granularity
(``model,day``); ``--detail`` streams every invocation instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from bedrock_explorer import explorer, export
from bedrock_explorer.cli_output import json_default, readable, records
from bedrock_explorer.display import money
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.store import Store


def _filters(args: argparse.Namespace) -> explorer.Filters:
    today = explorer.today_in(args.tz)  # "today" is the --tz zone's date
    base = explorer.default_filters(today)
    start = args.date_from or base.start
    end = args.date_to or (today if args.date_from else base.end)
    filters = explorer.Filters(start, end, tz=args.tz, basis=getattr(args, "basis", "estimate"))
    filters.validate()  # dates and zone from the command line, refused with the reason
    return explorer.filters_from_pairs(filters, args.filter or [])


def cmd_report(args: argparse.Namespace, store: Store) -> int:
    filters = _filters(args)
    unknown = explorer.unknown_filter_values(store, filters)
    if unknown:
        raise UserFacingError(
            "Nothing stored matches --filter " + "; ".join(unknown),
            "check the spelling (values are case-sensitive); `stats` lists the integrations and "
            "the Explorer's filters list every value",
        )
    parts = [p.strip() for p in (args.group_by or "model").split(",") if p.strip()]
    grains = [p for p in parts if p in explorer.GRANULARITIES]
    dims = [p.replace("_", " ") for p in parts if p not in explorer.GRANULARITIES]
    if len(grains) > 1:
        raise UserFacingError("Only one time granularity per report", "e.g. --group-by model,day")
    if grains:
        filters = replace(filters, granularity=grains[0])
    filters.validate()
    out_ctx: Any = (
        open(args.output, "w", newline="")  # noqa: SIM115 - closed by the with below
        if args.output
        else nullcontext(sys.stdout)
    )
    with out_ctx as out:
        if args.detail:
            if args.format != "csv":
                raise UserFacingError("--detail writes CSV", "add --format csv (the default)")
            rows = export.write_detail_csv(store, filters, out)
            if args.output:
                print(f"{rows:,} invocations written to {args.output}", file=sys.stderr)
            return 0
        frame = explorer.grouped(
            store, filters, dims, meta_key=args.meta_key, time_bucket=bool(grains)
        )
        table = export.grouped_table(frame, dims)
        if args.format == "csv":
            out.write(export.grouped_csv(frame, dims))
        elif args.format == "json":
            print(json.dumps(records(table), indent=2, default=json_default), file=out)
        elif table.empty:
            print("Nothing in this selection.", file=out)
        else:
            print(readable(table).to_string(index=False), file=out)
            total = explorer.total_cost(frame["cost"])
            unpriced = int(frame["unpriced_tokens"].sum())
            print(f"\nTotal: {money(total)}", file=out)
            if unpriced:
                print(f"Unpriced: {unpriced:,} tokens are not in the total", file=out)
            unpriced_calls = int(frame["unpriced_invocations"].sum())
            if unpriced_calls:
                print(f"Unpriced: {unpriced_calls:,} invocations have no price", file=out)
    return 0
