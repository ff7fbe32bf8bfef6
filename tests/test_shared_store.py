"""The dashboard's shared connection: cursors per session, and the file let go when idle."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bedrock_explorer.errors import DatabaseBusyError
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import SharedStore, Store
from tests.conftest import line

ROOT = Path(__file__).resolve().parent.parent


def _other_process_opens(db: Path, wait: float) -> str:
    """Open the file from another process (as a cron ``sync`` would): ``ok`` or the error."""
    code = textwrap.dedent(f"""
        from bedrock_explorer.store import Store
        try:
            Store({str(db)!r}, wait_seconds={wait}).close()
            print("ok")
        except Exception as err:
            print(type(err).__name__, err)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return done.stdout.strip()


def test_sessions_share_one_connection_through_their_own_cursors(db_path: Path) -> None:
    shared = SharedStore(db_path, idle_seconds=60)
    Store(db_path).close()
    errors: list[BaseException] = []
    counts: dict[str, list[int]] = {}

    def writer() -> None:
        try:
            with shared.session() as store:
                integ = store.add_integration("w", "local")
                for n in range(20):
                    batch = [line(request_id=f"w-{n}-{i}") for i in range(50)]
                    store.write_batch(integ.id, RawBatch(f"w{n}", batch))
        except BaseException as err:
            errors.append(err)

    def reader() -> None:
        seen = counts.setdefault(threading.current_thread().name, [])
        try:
            for _ in range(40):
                with shared.session() as store:
                    seen.append(store.con.execute("SELECT count(*) FROM invocations").fetchone()[0])
        except BaseException as err:
            errors.append(err)

    threads = [
        threading.Thread(target=writer),
        *(threading.Thread(target=reader) for _ in range(3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seen in counts.values():
        assert all(c % 50 == 0 for c in seen), "a reader saw half a batch"
        assert seen == sorted(seen), "a reader saw rows disappear"
    with shared.session() as store:
        assert store.con.execute("SELECT count(*) FROM invocations").fetchone()[0] == 1000
    shared.close()


def test_the_file_is_let_go_when_idle_so_cron_can_sync(db_path: Path) -> None:
    shared = SharedStore(db_path, idle_seconds=0.3)
    with shared.session() as store:
        store.add_integration("x", "local")
        assert "DatabaseBusyError" in _other_process_opens(db_path, wait=0.5)
    time.sleep(1.0)
    assert not shared.is_open
    assert _other_process_opens(db_path, wait=5) == "ok"
    with shared.session() as store:  # and it comes back on the next rerun
        assert store.find_integration("x") is not None
    shared.close()


def test_a_busy_file_is_a_clear_error_for_the_dashboard(db_path: Path) -> None:
    Store(db_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,sys; c=duckdb.connect({str(db_path)!r}); "
         "print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        shared = SharedStore(db_path)
        with pytest.raises(DatabaseBusyError, match="in use by process"), shared.session(0.5):
            pass
    finally:
        holder.communicate("")
