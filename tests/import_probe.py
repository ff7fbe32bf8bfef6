"""``python -m bedrock_explorer import PATH`` as a whole process, with its peak memory.

Shared by ``tests/test_resource_bounds.py`` (bounds) and ``bench/hostile.py`` (figures): a small
wrapper process starts the CLI and reports the child's peak resident memory, its exit code, its
wall time and the ends of its output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_MEASURE = """
import json, resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"code": done.returncode, "seconds": time.monotonic() - started,
                  "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                  "stdout": done.stdout[-400:], "stderr": done.stderr[-2000:]}))
"""


def measure_import(path: Path, db: Path, timeout: float | None = None) -> dict[str, Any]:
    """``{"code", "seconds", "rss" (bytes), "stdout", "stderr"}`` of one import into ``db``."""
    cli = [sys.executable, "-m", "bedrock_explorer", "--db", str(db), "import", str(path)]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cli, "--integration", "probe"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]
