"""Prompt cache economics (explorer.cache_economics), against figures worked out by hand from
the stored rates: what cache reads saved, what writes cost above the input price, and the
writes no request of the same model read back on the same day — of the display zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bedrock_explorer import explorer
from bedrock_explorer.explorer import Filters
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from tests.conftest import line

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
SONNET = "anthropic.claude-3-7-sonnet-20250219-v1:0"


def _rates(store: Store, model: str) -> tuple[float, float, float]:
    row = store.con.execute(
        "SELECT input, cache_read, cache_write FROM price_points "
        "WHERE model_id = ? AND tier = 'standard' AND region = 'us-east-1' AND status = 'priced'",
        [model],
    ).fetchall()
    assert len(row) == 1, row
    return row[0]


@pytest.fixture
def cached(store: Store) -> Store:
    """Haiku writes 1,000 tokens and reads 5,000 on 1 Jan; writes 2,000 at 23:30 UTC on 2 Jan
    and reads 700 at 00:30 UTC on 3 Jan. Sonnet reads 3,000 on 2 Jan, never writes."""
    spec = [
        ("a", HAIKU, datetime(2025, 1, 1, 9, tzinfo=UTC), 0, 1000),
        ("b", HAIKU, datetime(2025, 1, 1, 10, tzinfo=UTC), 5000, 0),
        ("c", HAIKU, datetime(2025, 1, 2, 23, 30, tzinfo=UTC), 0, 2000),
        ("d", HAIKU, datetime(2025, 1, 3, 0, 30, tzinfo=UTC), 700, 0),
        ("e", SONNET, datetime(2025, 1, 2, 12, tzinfo=UTC), 3000, 0),
    ]
    lines = [
        line(request_id=rid, model_id=model, ts=ts, cache_read_tokens=read,
             cache_write_tokens=write)
        for rid, model, ts, read, write in spec
    ]  # fmt: skip
    integ = store.add_integration("cache", "local")
    store.write_batch(integ.id, RawBatch("a", lines))
    return store


def test_savings_premium_and_unread_writes_by_utc_day(cached: Store) -> None:
    h_in, h_read, h_write = _rates(cached, HAIKU)
    s_in, s_read, _ = _rates(cached, SONNET)
    got = explorer.cache_economics(cached, Filters(date(2025, 1, 1), date(2025, 1, 3)))
    saved = 5700 * (h_in - h_read) + 3000 * (s_in - s_read)
    premium = 3000 * (h_write - h_in)
    assert got["cache_read_tokens"] == 8700
    assert got["cache_write_tokens"] == 3000
    assert got["saved"] == pytest.approx(saved)
    assert got["write_premium"] == pytest.approx(premium)
    assert got["net"] == pytest.approx(saved - premium)
    # 2 Jan (UTC): Haiku wrote 2,000 tokens and read nothing that day.
    assert got["unread_write_tokens"] == 2000
    assert got["unread_write_cost"] == pytest.approx(2000 * h_write)
    assert saved > 0 and premium > 0


def test_a_day_is_a_day_of_the_display_zone(cached: Store) -> None:
    """In Tokyo (UTC+9) the 23:30 write and the 00:30 read fall on the same day (3 Jan)."""
    f = Filters(date(2025, 1, 1), date(2025, 1, 3), tz="Asia/Tokyo")
    got = explorer.cache_economics(cached, f)
    assert got["unread_write_tokens"] == 0
    assert got["cache_write_tokens"] == 3000


def test_the_page_memo_answers_without_another_query(
    cached: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = Filters(date(2025, 1, 1), date(2025, 1, 3))
    alone = explorer.cache_economics(cached, f)
    asked: list[object] = []
    query = explorer._grouped_raw
    monkeypatch.setattr(explorer, "_grouped_raw", lambda *a: asked.append(a) or query(*a))
    memo: dict = {}
    explorer.over_time(cached, f, "model", memo=memo)
    assert len(asked) == 1
    assert explorer.cache_economics(cached, f, memo) == alone
    assert len(asked) == 1  # answered from the chart's frame


def test_other_filters_narrow_it(cached: Store) -> None:
    f = Filters(date(2025, 1, 1), date(2025, 1, 3), models=(SONNET,))
    got = explorer.cache_economics(cached, f)
    assert got["cache_read_tokens"] == 3000
    assert got["cache_write_tokens"] == 0
