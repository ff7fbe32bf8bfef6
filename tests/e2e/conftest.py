"""End-to-end harness: real servers on loopback, a real headless Chromium driven by Playwright.

Starts ``moto_server`` (AWS, faked) and ``streamlit run`` (the dashboard, pointed at moto through
``AWS_ENDPOINT_URL`` and at a fresh database) on free 127.0.0.1 ports, waits until both answer, and
tears both down. For a failed test the page screenshot and both server logs are kept under
``test-artifacts/<test name>/`` (see the README).

Chromium is Debian's (``apt-get install chromium``); Playwright's own browser download is not used.
Without a browser the tests skip on a developer machine but fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Not frozen here: the dashboard under test is another process, on the real clock, so the
    data these tests seed is placed relative to the real now."""
    yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} server exited early; log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s; log:\n{log.read_text()[-3000:]}")


@dataclass
class Servers:
    app_url: str
    aws_url: str
    db_path: Path
    logs: dict[str, Path]
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]]
    app_args: list[str] = field(default_factory=list)

    def restart_app(self) -> None:
        """Stop the dashboard and start it again on the same port and database (a returning
        user's next day)."""
        _stop(self.procs["app"])
        port = self.app_url.rsplit(":", 1)[1]
        self.procs["app"] = _start(
            _app_command(port) + self.app_args, self.env, self.logs["streamlit"], "ab"
        )
        wait_http(f"{self.app_url}/_stcore/health", self.procs["app"], self.logs["streamlit"])


def _start(
    cmd: list[str], env: dict[str, str], log: Path, mode: str = "wb"
) -> subprocess.Popen[bytes]:
    handle = open(log, mode)  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _app_command(port: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        port,
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def run_servers(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    *,
    moto_env: dict[str, str] | None = None,
    prepare: Callable[[str], dict[str, str]] | None = None,
    app_args: Callable[[str], list[str]] | None = None,
    demo: bool = True,
) -> Iterator[Servers]:
    """moto_server, then (after ``prepare(aws_url)``, which may return env for the dashboard,
    e.g. the keys of an IAM user it made) the dashboard; both stopped at the end.

    ``app_args(app_url)``: more ``streamlit run`` options, given the dashboard's own address
    (e.g. ``--secrets.files`` with a sign-in redirect URI on that port).

    ``demo=False``: the database starts as one whose user removed the demo data, so the first
    page shows the empty state at once (the demo's own first start has its own tests; loading
    it costs ~10 s of a test that is about something else)."""
    logs = {"moto": tmp_path / "moto_server.log", "streamlit": tmp_path / "streamlit.log"}
    aws_port, app_port = free_port(), free_port()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "BEDROCK_EXPLORER_DB": str(tmp_path / "e2e.duckdb"),
    }
    if not demo:
        from bedrock_explorer.demo import DEMO_DECLINED_SETTING
        from bedrock_explorer.store import Store

        with Store(tmp_path / "e2e.duckdb") as store:
            store.set_setting(DEMO_DECLINED_SETTING, "true")
    moto_bin = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    procs = {
        "moto": _start(
            [moto_bin, "-H", "127.0.0.1", "-p", str(aws_port)],
            {**env, **(moto_env or {})},
            logs["moto"],
        ),
    }
    aws_url = f"http://127.0.0.1:{aws_port}"
    try:
        wait_http(f"{aws_url}/moto-api/", procs["moto"], logs["moto"])
        if prepare is not None:
            env.update(prepare(aws_url))
        app_url = f"http://127.0.0.1:{app_port}"
        extra = app_args(app_url) if app_args is not None else []
        procs["app"] = _start(_app_command(str(app_port)) + extra, env, logs["streamlit"])
        wait_http(f"{app_url}/_stcore/health", procs["app"], logs["streamlit"])
        yield Servers(app_url, aws_url, tmp_path / "e2e.duckdb", logs, env, procs, extra)
    finally:
        for proc in procs.values():
            _stop(proc)
        if getattr(request.node, "failed", False):
            target = ARTIFACTS / request.node.name
            target.mkdir(parents=True, exist_ok=True)
            for path in logs.values():
                shutil.copy(path, target / path.name)


@pytest.fixture
def servers(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Servers]:
    yield from run_servers(tmp_path, request)


@pytest.fixture
def servers_without_demo(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Servers]:
    """The servers, on a database whose demo data was removed (no first-start demo load)."""
    yield from run_servers(tmp_path, request, demo=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call" and report.failed:
        item.failed = True  # type: ignore[attr-defined]
    return report


@pytest.fixture
def page(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        try:
            yield pg
        finally:
            if getattr(request.node, "failed", False):
                target = ARTIFACTS / request.node.name
                target.mkdir(parents=True, exist_ok=True)
                pg.screenshot(path=str(target / "page.png"), full_page=True)
            context.close()
            browser.close()


def settle(pg) -> None:  # type: ignore[no-untyped-def]
    """Wait until streamlit has finished the current script run (else we read the old page)."""
    pg.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=120_000)


def settle_after_change(pg) -> None:  # type: ignore[no-untyped-def]
    """After a click or a typed value: let the rerun it starts begin, then wait for it to end
    (``settle`` alone can look before the rerun has started and read the old page)."""
    pg.wait_for_timeout(400)
    settle(pg)
