"""One database connection per dashboard process, shared by all sessions, let go when idle.

Why shared: every browser session's rerun needs the database; opening the file each time costs a
lock round-trip and the schema check, and a DuckDB connection object must not be used by two
threads at once — so the process keeps one connection and each session works through its own
cursor (sessions run on their own threads).

Why let go when idle: DuckDB allows one *process* to hold the file. A ``sync`` from cron must
get it between a user's clicks, so when no session has been using the connection for
:data:`IDLE_SECONDS` it is closed; the next rerun reopens it (and waits for the cron job, with a
clear message if it takes too long).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bedrock_explorer.store.database import Store

#: Keep the file this long after the last session finished with it. Short: with 3 s, one tab
#: reloading every 2 s kept the file for good and every cron write failed after its wait; now
#: the file is free for all but the ~0.1-0.5 s a rerun uses it, and a writer polling every
#: 0.1 s (``database._open``) gets in between two reruns.
IDLE_SECONDS = 0.2


class SharedStore:
    """A process-wide :class:`Store` handing out per-session views (cursors)."""

    def __init__(self, path: str | Path, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.path = Path(path)
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._users = 0
        self._timer: threading.Timer | None = None

    @contextmanager
    def session(self, wait_seconds: float = 10.0) -> Iterator[Store]:
        """A view of the database for one rerun; raises ``DatabaseBusyError`` if another
        process keeps the file longer than ``wait_seconds``."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._store is None:
                self._store = Store(self.path, wait_seconds=wait_seconds)
            self._users += 1
            view = self._store.view()
        try:
            yield view
        finally:
            view.close()
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._timer = threading.Timer(self.idle_seconds, self._release_if_idle)
                    self._timer.daemon = True
                    self._timer.start()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._store is not None

    def _release_if_idle(self) -> None:
        with self._lock:
            if self._users == 0 and self._store is not None:
                self._store.close()
                self._store = None
            self._timer = None

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if self._store is not None:
                self._store.close()
            self._store = None
