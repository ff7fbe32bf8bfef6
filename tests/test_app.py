"""The dashboard under streamlit's AppTest: first start with demo data, a busy database.

Removing the demo data, its staying removed and loading it again are tested in the browser
(``tests/e2e/test_first_start.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bedrock_explorer.store import Store
from tests.conftest import held_by_another_process

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(path))
    return path


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=90)


def test_first_start_loads_labelled_demo_data_into_the_explorer(app_db: Path) -> None:
    at = _app().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Invocations"].replace(",", "")) > 15_000  # the last 30 days of 90
    assert float(metrics["Total cost"].strip("$").replace(",", "")) > 50
    # the demo's application inference profile is not resolved: shown as unpriced, with tokens
    assert any("Part of this selection is unpriced" in w.value for w in at.warning)
    assert any("demo data" in w.value for w in at.sidebar.warning)
    with Store(app_db) as store:
        assert len(store.list_integrations()) == 3


def test_the_shell_has_three_pages() -> None:
    source = Path(APP).read_text()
    for page in ("pages/explorer.py", "pages/integrations.py", "pages/iam_checker.py"):
        assert page in source


def test_a_busy_database_is_explained_not_crashed(app_db: Path) -> None:
    Store(app_db).close()
    with held_by_another_process(app_db):
        at = _app().run(timeout=60)
        assert not at.exception
        assert any("in use by process" in e.value for e in at.error)
