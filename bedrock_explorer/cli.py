"""``python -m bedrock_explorer`` (or ``bedrock-explorer``) — everything a script or a cron job
needs.

Conventions: a failure the user can fix prints one line ``error: … — fix`` on stderr and exits 1;
bad arguments exit 2 (argparse); ``--json`` prints one JSON document on stdout for scripts; progress
bars go to stderr and only when it is a terminal, so cron mail stays clean.

The arguments are in ``cli_parser``; the commands in ``cli_commands``, ``cli_sources`` and
``cli_report``, imported only when one runs (``--help`` loads none of pandas, DuckDB, boto3).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bedrock_explorer.cli_parser import build_parser
from bedrock_explorer.config import private_files, resolve_db_path
from bedrock_explorer.errors import UserFacingError, explain_failure


def _command(ref: str) -> Callable[[argparse.Namespace, Any], int]:
    """The command ``module:function`` names (a module of this package)."""
    module, _, name = ref.partition(":")
    found: Callable[[argparse.Namespace, Any], int] = getattr(
        importlib.import_module(f"bedrock_explorer.{module}"), name
    )
    return found


#: Commands that only read stored data: a mistyped --db must not create an empty database and
#: report on it. (``prices coverage`` measures the bundled catalogue, which a new file holds.)
READ_ONLY = {
    "cli_commands:cmd_stats",
    "cli_report:cmd_report",
    "cli_commands:cmd_quarantine",
    "cli_commands:cmd_prices_list",
    "cli_commands:cmd_prices_unpriced",
    "cli_commands:cmd_audit",
    "cli_bill:cmd_bill_list",
    "cli_bill:cmd_reconcile",
}
#: Commands that need no database at all.
NO_DATABASE = {"cli_commands:cmd_iam_check"}


def main(argv: Sequence[str] | None = None) -> int:
    private_files()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        func = _command(args.func)
        if args.func in NO_DATABASE:
            return func(args, None)
        path = resolve_db_path(args.db)
        if args.func in READ_ONLY and not path.exists():
            raise UserFacingError(
                f"There is no database at {path}",
                "check --db or BEDROCK_EXPLORER_DB; `sync`, `import` or `demo` create one",
            )
        # imported only now: the store loads DuckDB and pandas, which --help never needs
        from bedrock_explorer import audit
        from bedrock_explorer.store import Store

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
