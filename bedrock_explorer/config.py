"""Where the database lives.

Order: an explicit path (``--db``), then ``BEDROCK_EXPLORER_DB``, then the per-user data folder
(``$XDG_DATA_HOME/bedrock-explorer/bedrock-explorer.duckdb``, i.e.
``~/.local/share/bedrock-explorer/bedrock-explorer.duckdb`` by default). One well-known file
means the dashboard and a cron ``sync`` see the same data without any configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV_VAR = "BEDROCK_EXPLORER_DB"
DB_FILE_NAME = "bedrock-explorer.duckdb"


def default_db_path() -> Path:
    """The per-user default location of the DuckDB file."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "bedrock-explorer" / DB_FILE_NAME


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The database path to use: ``--db``, else the environment variable, else the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DB_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return default_db_path()


def private_files() -> None:
    """Files this process creates are readable by its user only (umask 077).

    Why process-wide: the database and its write-ahead log hold account ids, identity ARNs and
    request metadata, and DuckDB creates (and re-creates) the WAL whenever it writes. Set once by
    the CLI and the dashboard at start-up, before any file is made.
    """
    os.umask(0o077)


#: The addresses that reach only this machine.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(address: str | None) -> bool:
    """Whether the dashboard listening on ``address`` is reachable from this machine only (an
    empty address means every network interface)."""
    text = (address or "").strip().strip("[]")
    return text in LOOPBACK or text.startswith("127.")
