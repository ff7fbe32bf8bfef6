"""The CLI as a cron job or a script sees it: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bedrock_explorer.cli import main
from tests.conftest import PUBLIC_RECORDS, line


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_then_stats_as_json(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "--db",
        str(db_path),
        "import",
        str(PUBLIC_RECORDS),
        "--integration",
        "fixtures",
        "--json",
    )
    assert code == 0
    summary = json.loads(out)
    assert (summary["inserted"], summary["quarantined"], summary["files"]) == (7, 0, 1)
    code, out, _ = run(capsys, "--db", str(db_path), "stats", "--json")
    stats = json.loads(out)
    assert stats["database"] == str(db_path)
    (row,) = stats["integrations"]
    assert (row["integration"], row["invocations"], row["quarantined"]) == ("fixtures", 7, 0)
    assert row["first_invocation"] == "2024-04-18T22:54:57"


def test_import_twice_reports_unchanged_files(
    capsys: pytest.CaptureFixture[str], db_path: Path
) -> None:
    run(capsys, "--db", str(db_path), "import", str(PUBLIC_RECORDS), "--integration", "f")
    code, out, _ = run(
        capsys, "--db", str(db_path), "import", str(PUBLIC_RECORDS), "--integration", "f"
    )
    assert code == 0
    assert "0 files read, 1 unchanged, 0 new invocations" in out


def test_quarantine_listing(
    capsys: pytest.CaptureFixture[str], db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(line() + "\n{oops\n")
    code, out, _ = run(capsys, "--db", str(db_path), "import", str(path), "--integration", "x")
    assert code == 0 and "1 malformed lines quarantined" in out and "quarantine" in out
    code, out, _ = run(capsys, "--db", str(db_path), "quarantine", "--json")
    (row,) = json.loads(out)
    assert row["reason"] == "not valid JSON (malformed or truncated line)"
    assert row["example_locator"] == f"{path.resolve()}:2"


def test_errors_are_one_line_with_the_fix_and_exit_1(
    capsys: pytest.CaptureFixture[str], db_path: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "--db", str(db_path), "import", str(tmp_path / "missing"), "--integration", "x"
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: No such file or folder")
    code, _, err = run(capsys, "--db", str(db_path), "quarantine", "--integration", "nope")
    assert code == 1 and "no integration named 'nope'" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["import", "somewhere"])  # --integration missing
    assert exit_info.value.code == 2


def test_demo_load_and_remove(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    code, out, _ = run(capsys, "--db", str(db_path), "demo", "--days", "3", "--json")
    assert code == 0 and json.loads(out)["inserted"] > 1000
    code, out, _ = run(capsys, "--db", str(db_path), "demo", "--remove")
    assert code == 0 and out.startswith("Removed the demo data")
    code, out, _ = run(capsys, "--db", str(db_path), "stats")
    assert "No integrations yet" in out


def test_the_environment_variable_chooses_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "from-env.duckdb"
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(target))
    run(capsys, "import", str(PUBLIC_RECORDS), "--integration", "f")
    assert target.exists()


def test_python_dash_m_entry_point(db_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bedrock_explorer", "--db", str(db_path), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    done = cli("demo", "--days", "2")
    assert done.returncode == 0, done.stderr
    done = cli("stats", "--json")
    assert done.returncode == 0, done.stderr
    names = [i["integration"] for i in json.loads(done.stdout)["integrations"]]
    assert len(names) == 3 and all(n.startswith("Demo · ") for n in names)


@pytest.mark.parametrize(
    "command",
    [["stats"], ["report"], ["quarantine"], ["prices", "list"], ["prices", "unpriced"]],
    ids=lambda c: " ".join(c),
)
def test_read_only_commands_refuse_a_database_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "typo" / "explorer.duckdb"
    code, _, err = run(capsys, "--db", str(missing), *command)
    assert code == 1 and f"There is no database at {missing}" in err
    assert not missing.exists() and not missing.parent.exists()


def test_report_refuses_a_filter_value_that_matches_nothing(
    capsys: pytest.CaptureFixture[str], db_path: Path
) -> None:
    run(capsys, "--db", str(db_path), "import", str(PUBLIC_RECORDS), "--integration", "f")
    code, out, _ = run(capsys, "--db", str(db_path), "report", "--filter", "integration=f")
    assert code == 0 and out
    code, out, err = run(
        capsys,
        "--db",
        str(db_path),
        "report",
        "--filter",
        "integration=prod",
        "--filter",
        "region=us-east-9",
    )
    assert code == 1 and out == ""
    assert "integrations=prod (known: f)" in err and "regions=us-east-9" in err
    code, _, err = run(capsys, "--db", str(db_path), "report", "--filter", "nosuchkey=x")
    assert code == 1 and "no invocation in the period has the key nosuchkey" in err


def test_prices_set_list_and_unpriced(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    run(capsys, "--db", str(db_path), "import", str(PUBLIC_RECORDS), "--integration", "f")
    code, out, _ = run(capsys, "--db", str(db_path), "prices", "unpriced", "--json")
    (row,) = json.loads(out)
    assert (row["model_id"], row["unpriced_tokens"]) == ("dummy-model-v1", 620)
    code, out, _ = run(capsys, "--db", str(db_path), "stats", "--json")
    before = json.loads(out)["integrations"][0]["cost_usd"]
    code, out, _ = run(
        capsys,
        "--db",
        str(db_path),
        "prices",
        "set",
        "dummy-model-v1",
        "--input",
        "1",
        "--output",
        "2",
        "--from",
        "2024-01-01",
    )
    assert code == 0 and "History before keeps its price" in out
    code, out, _ = run(capsys, "--db", str(db_path), "prices", "unpriced", "--json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "--db", str(db_path), "stats", "--json")
    after = json.loads(out)["integrations"][0]["cost_usd"]
    assert after == pytest.approx(before + 320 * 1e-6 + 300 * 2e-6, abs=0.006)
    code, out, _ = run(capsys, "--db", str(db_path), "prices", "list", "--model", "dummy", "--json")
    before_price, priced = json.loads(out)
    assert before_price["status"] == "unpriced"
    assert before_price["valid_to"].startswith("2024-01-01")
    assert priced["input_per_m"] == 1.0 and "user override" in priced["source_or_reason"]


def test_prices_set_refuses_a_per_token_figure(
    capsys: pytest.CaptureFixture[str], db_path: Path
) -> None:
    code, _, err = run(
        capsys,
        "--db",
        str(db_path),
        "prices",
        "set",
        "amazon.nova-pro-v1:0",
        "--input",
        "3000",
        "--from",
        "2025-01-01",
    )
    assert code == 1 and "per 1M tokens" in err
