"""The dashboard under streamlit's AppTest: first start with demo data, a busy database.

Removing the demo data, its staying removed and loading it again are tested in the browser
(``tests/e2e/test_first_start.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bedrock_explorer.display import table_for_screen
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
    # the prices panel reads nothing while closed, and as a table, not as pandas, when open
    panel = next(e for e in at.expander if e.label.startswith("Prices used"))
    assert not panel.dataframe
    at.session_state["ex_prices_box"] = True  # what clicking it open does
    at.run()
    panel = next(e for e in at.expander if e.label.startswith("Prices used"))
    frames = [d.value for d in panel.dataframe]
    assert len(frames) == 3  # unpriced models, prices used, models seen
    cells = {str(v) for frame in frames for v in frame.to_numpy().ravel()}
    assert not cells & {"None", "nan", "NaN", "<NA>", "NaT", "2000-01-01"}, cells & {"None"}
    assert "since always" in cells
    assert "valid from" in frames[1].columns and "input per m" in frames[1].columns


def test_table_for_screen_never_prints_a_missing_value_and_never_a_false_zero() -> None:
    frame = pd.DataFrame(
        {
            "rate": [1.5, np.nan, 3.5e-9, 2.0],
            "count": pd.array([12345, None, 3, 0], dtype="Int64"),
            "valid_from": pd.to_datetime(
                ["2000-01-01", "2026-01-01", None, "2026-03-04 05:06"], format="ISO8601"
            ),
            "name": ["a", None, "b", "c"],
        }
    )
    shown = table_for_screen(frame)
    assert list(shown.columns) == ["rate", "count", "valid from", "name"]
    assert shown.to_dict("list") == {
        "rate": ["1.5", "", "3.5e-09", "2"],
        "count": ["12,345", "", "3", "0"],
        "valid from": ["since always", "2026-01-01", "", "2026-03-04 05:06"],
        "name": ["a", "", "b", "c"],
    }


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
