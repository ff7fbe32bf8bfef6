"""An installable package: the wheel builds offline, installs a working ``bedrock-explorer``,
carries its price data; the requirements files say what ``pyproject.toml`` says; ``--help``
loads none of the heavy libraries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements(name: str) -> set[str]:
    """The requirements a file lists itself (``-r`` includes and comments left out)."""
    found = set()
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found.add(str(Requirement(line)))
    return found


def test_requirements_files_match_pyproject() -> None:
    project = PYPROJECT["project"]
    runtime = {str(Requirement(r)) for r in project["dependencies"]}
    assert _requirements("requirements.txt") == runtime
    dev = {str(Requirement(r)) for r in project["optional-dependencies"]["dev"]}
    assert _requirements("requirements-dev.txt") == dev


def test_the_wheel_installs_a_working_command(tmp_path: Path) -> None:
    # a copy of what the wheel is built from: setuptools writes build/ and *.egg-info beside it
    src = tmp_path / "src"
    shutil.copytree(ROOT / "bedrock_explorer", src / "bedrock_explorer",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # --no-build-isolation: the build backend comes from the dev requirements, no download
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("bedrock_explorer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bedrock_explorer/pricing/bundled_prices.json" in names
    assert "bedrock_explorer/pricing/litellm_prices.json" in names
    assert not [n for n in names if n.startswith(("tests/", "pages/", "bench/", "scripts/"))]
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    # outside the repository, so the installed copy is what runs (its dependencies from here)
    env = {**os.environ, "PYTHONPATH": str(site), "BEDROCK_EXPLORER_DB": str(tmp_path / "x.db")}
    help_text = subprocess.run(
        [str(site / "bin" / "bedrock-explorer"), "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "prices" in help_text and "report" in help_text
    done = subprocess.run(
        [sys.executable, "-c",
         "import bedrock_explorer, sys; print(bedrock_explorer.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert done.startswith(str(site)), done
    coverage = subprocess.run(
        [str(site / "bin" / "bedrock-explorer"), "prices", "coverage", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert coverage.returncode == 0, coverage.stderr
    assert json.loads(coverage.stdout)["priced"] > 100  # the bundled price data came along


def test_help_loads_no_heavy_library() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "from bedrock_explorer.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['report', '--help'])\n"
        "print(sorted(m for m in ('pandas', 'duckdb', 'boto3', 'numpy', 'pyarrow', 'streamlit')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"--help imported {out.stdout.strip()}"
