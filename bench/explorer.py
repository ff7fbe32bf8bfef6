"""Explorer benchmark: every query behind the Explorer page, and whole page reruns, at 10M rows.

    python bench/explorer.py [--rows 10000000] [--runs 5]

Builds (once, cached under ``bench/out/``) a store of synthetic invocations over the 90 days up to
today — 3 integrations, 4 regions, 14 model ids (global, geo, in-region, embeddings, an unpriced
one), 300 identities with sessions, ``requestMetadata`` team and feature, cache tokens — in SQL
(this measures queries, not ingest). Then, on the default view (last 30 days):

* each Explorer query alone, warm, median of ``--runs``;
* the whole page under ``streamlit.testing.v1.AppTest`` after a filter change (one model
  selected, then removed, for ``--runs`` models: twice ``--runs`` changes), median;
* the process's peak RSS (the dashboard runs pages in its own process like this one).

Targets: each query ≤ 300 ms median, RSS ≤ 1.5 GB (issue 7); a page rerun after a filter
change ≤ 1.0 s median (issue 16).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bedrock_explorer import explorer, records
from bedrock_explorer.pricing import book
from bedrock_explorer.store import Store, metadata_sets, price_keys
from bedrock_explorer.store.writer import insert_model_id
from bench.pricing import COLUMNS, MODEL_IDS, build_once, timed  # the pricing benchmark's helpers

OUT = ROOT / "bench" / "out"


def build(path: Path, rows: int) -> None:
    ids = ", ".join(f"'{m}'" for m in MODEL_IDS)
    end = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=90)
    with Store(path) as store:
        integ = [store.add_integration(f"bench-{n}", "local").id for n in range(3)]
        store.con.execute(
            f"""
            INSERT INTO invocations (integration_id, {COLUMNS}, ingested_at)
            SELECT ([{", ".join(map(str, integ))}])[CAST(1 + n % 3 AS BIGINT)], 'req-' || n,
                   ?::TIMESTAMP + to_seconds(CAST(n * 7776000 // ? AS BIGINT)),
                   (['111122223333', '444455556666', '777788889999'])[CAST(1 + n % 3 AS BIGINT)],
                   (['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1'])
                       [CAST(1 + hash(n * 11) % 4 AS BIGINT)],
                   NULL,
                   (['Converse', 'ConverseStream', 'InvokeModel'])
                       [CAST(1 + hash(n * 13) % 3 AS BIGINT)],
                   ([{ids}])[CAST(1 + hash(n) % {len(MODEL_IDS)} AS BIGINT)],
                   'arn:aws:sts::111122223333:assumed-role/app-' || (hash(n * 17) % 30)
                       || '/s' || (hash(n * 19) % 10),
                   100 + hash(n * 3) % 5000, 20 + hash(n * 5) % 800,
                   CASE WHEN n % 3 = 0 THEN hash(n * 7) % 4000 ELSE 0 END,
                   CASE WHEN n % 17 = 0 THEN 2048 ELSE 0 END,
                   CASE WHEN n % 34 = 0 THEN 2048 ELSE 0 END,
                   NULL,
                   CASE WHEN n % 101 = 0 THEN 'latency_optimized' ELSE 'standard' END,
                   'end_turn',
                   CASE WHEN n % 97 = 0 THEN 'error' WHEN n % 89 = 0 THEN 'guardrail_intervened'
                        ELSE 'success' END,
                   NULL, 800, NULL, false,
                   MAP {{'team': 'team-' || (n % 7), 'feature': 'f-' || (hash(n) % 12)}},
                   '1.0', NULL, NULL, now()
            FROM range(?) t(n)
            """,
            [start, rows, rows],
        )
        for model_id in MODEL_IDS:
            insert_model_id(store.con, model_id)
        price_keys.assign_missing(store.con)  # rows inserted by SQL, not by the writer
        metadata_sets.assign_missing(store.con)
        store.con.execute(
            "INSERT INTO identities WITH arns AS (SELECT DISTINCT identity_arn FROM invocations) "
            + records.IDENTITY_SQL
        )
        book.compile_price_points(store)
        store.con.execute("CHECKPOINT")


def page_reruns(path: Path, runs: int) -> list[float]:
    os.environ["BEDROCK_EXPLORER_DB"] = str(path)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    samples = []
    # Each base model offered, then back to all of them: select one, remove it, the next...
    # (an id that is not an option would select nothing, and measure the empty page).
    options = list(at.multiselect(key="ex_models").options)
    for model in options[:runs]:
        for chosen in ([model], []):
            widget = at.multiselect(key="ex_models")
            started = time.perf_counter()
            widget.set_value(chosen).run()
            samples.append(time.perf_counter() - started)
            assert not at.exception, at.exception
            assert at.metric, "the page showed no figures"
    return samples


def cpu_seconds(match: str) -> float:
    """CPU seconds used so far by the processes whose command line contains ``match`` (Linux
    ``/proc``; the browser and the server share this VM's cores, so both are reported)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        try:
            if match in (proc / "cmdline").read_bytes().decode(errors="replace"):
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
    return total


def browser_reruns(path: Path, runs: int) -> tuple[list[float], int, float, float]:
    """The same filter changes in headless Chromium against a real ``streamlit run``: seconds
    from the change to the end of the rerun the page reports, and how many showed the
    "Updating the figures" indicator (it appears after half a second)."""
    import socket
    import subprocess

    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "BEDROCK_EXPLORER_DB": str(path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
         "true", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    done = "[data-testid=stApp][data-test-script-state=notRunning]"
    samples: list[float] = []
    shown = 0
    browser_cpu = server_cpu = 0.0
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            for _ in range(60):
                try:
                    pg.goto(f"http://127.0.0.1:{port}/", timeout=5_000)
                    break
                except Exception:  # noqa: BLE001 — the server is still starting
                    time.sleep(1)
            pg.wait_for_selector("[data-testid=stMetric]", timeout=300_000)
            pg.wait_for_selector(done, timeout=300_000)
            pg.evaluate(
                """() => { window.__spun = 0; new MutationObserver(() => {
                    if (document.querySelector('[data-testid=stSpinner]')) window.__spun = 1;
                }).observe(document.body, {childList: true, subtree: true}); }"""
            )
            pg.get_by_text("Filters", exact=True).first.click()
            box = pg.locator("[data-testid=stMultiSelect]").filter(
                has=pg.get_by_text("Model", exact=True)
            )
            for model in MODEL_IDS[:runs]:
                for add in (True, False):  # select it, then remove it: two changes
                    box.locator("input").click()
                    if add:
                        pg.keyboard.type(model.split(".", 1)[-1])
                    pg.evaluate("() => { window.__spun = 0; }")
                    cpu_before = cpu_seconds("chromium"), cpu_seconds("streamlit_app.py")
                    started = time.perf_counter()
                    pg.keyboard.press("Enter" if add else "Backspace")
                    pg.wait_for_selector(
                        "[data-testid=stApp][data-test-script-state=running]", timeout=10_000
                    )
                    pg.wait_for_selector(done, timeout=300_000)
                    samples.append(time.perf_counter() - started)
                    browser_cpu += cpu_seconds("chromium") - cpu_before[0]
                    server_cpu += cpu_seconds("streamlit_app.py") - cpu_before[1]
                    shown += int(pg.evaluate("() => window.__spun"))
                    pg.keyboard.press("Escape")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return samples, shown, browser_cpu / len(samples), server_cpu / len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--browser", action="store_true", help="also time the changes in headless Chromium"
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"explorer-{args.rows}-{datetime.now(UTC):%Y%m%d}.duckdb"
    build_once(path, build, args.rows)
    f = explorer.default_filters()
    with Store(path) as store:
        total = store.con.execute("SELECT count(*) FROM invocations").fetchall()[0][0]
        meta = "team"
        queries: dict[str, Callable[[], object]] = {
            "headline (this + previous period)": lambda: explorer.headline(store, f),
            "cost over time by model (top 8)": lambda: explorer.over_time(store, f, "model"),
            "cost by model": lambda: explorer.grouped(store, f, ["model"]),
            "cost by service type": lambda: explorer.grouped(store, f, ["service type"]),
            "cost by identity": lambda: explorer.grouped(store, f, ["identity"]),
            "cost by requestMetadata team": lambda: explorer.grouped(
                store, f, ["metadata"], meta_key=meta
            ),
            "cache economics": lambda: explorer.cache_economics(store, f),
            "detail: count": lambda: explorer.detail_count(store, f),
            "detail: first page of 100": lambda: explorer.detail_page(store, f),
            "filter options": lambda: explorer.filter_options(store),
            "requestMetadata keys and pairs": lambda: explorer.metadata_summary(store, f),
            "one model, one team (filtered)": lambda: explorer.grouped(
                store,
                explorer.Filters(
                    f.start,
                    f.end,
                    models=("amazon.nova-lite-v1:0",),
                    metadata=(("team", "team-1"),),
                ),
                ["model"],
            ),
        }
        results = {name: timed(fn, args.runs)[0] for name, fn in queries.items()}
    reruns = page_reruns(path, args.runs)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{total:,} invocations over 90 days; view: last 30 days; median of {args.runs}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n"
    )
    print("| Explorer query                         | median ms |")
    print("|----------------------------------------|----------:|")
    for name, seconds in results.items():
        print(f"| {name:<38} | {seconds * 1000:>9.0f} |")
    print(
        f"\nWhole page rerun after a filter change (AppTest): median "
        f"{statistics.median(reruns):.2f} s, max {max(reruns):.2f} s over {len(reruns)} changes"
    )
    print(f"Peak RSS of this process: {rss:,.0f} MB")
    if args.browser:
        clicks, shown, browser_cpu, server_cpu = browser_reruns(path, args.runs)
        print(
            f"In Chromium (streamlit run, 1400 px): median {statistics.median(clicks):.2f} s, "
            f"max {max(clicks):.2f} s over {len(clicks)} changes; the updating indicator "
            f"showed in {shown} of them; CPU per change: browser {browser_cpu:.2f} s, "
            f"server {server_cpu:.2f} s (both on this machine's {os.cpu_count()} cores)"
        )


if __name__ == "__main__":
    main()
