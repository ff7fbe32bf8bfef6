"""Presets and comparisons in the display zone, on a fixed clock: both sides of local midnight
in the zones furthest from UTC (+14, -12) and in half-hour zones; like-for-like comparisons of
periods still running; no percentage when the data starts inside the previous period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bedrock_explorer import explorer, periods
from bedrock_explorer.explorer import Filters
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line

ZONES = [
    "Pacific/Kiritimati",  # UTC+14
    "Etc/GMT+12",  # UTC-12
    "Asia/Kolkata",  # +5:30
    "America/St_Johns",  # -3:30 / -2:30
    "Asia/Kathmandu",  # +5:45
    "UTC",
]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("side", [-1, 1])
def test_today_is_the_zones_date_on_both_sides_of_its_midnight(tz: str, side: int) -> None:
    midnight = datetime(2026, 3, 10, tzinfo=ZoneInfo(tz))  # local midnight starting 10 March
    moment = (midnight + timedelta(seconds=side)).astimezone(UTC)
    expected = date(2026, 3, 10) if side > 0 else date(2026, 3, 9)
    assert periods.today_in(tz, moment) == expected
    start, end = periods.preset("today", periods.today_in(tz, moment))
    assert start == end == expected
    assert explorer.today_in(tz, moment) == expected  # what the page and the links use


def test_every_preset() -> None:
    today = date(2026, 3, 11)  # a Wednesday
    expected = {
        "today": (today, today),
        "yesterday": (date(2026, 3, 10), date(2026, 3, 10)),
        "last 7 days": (date(2026, 3, 5), today),
        "last 30 days": (date(2026, 2, 10), today),
        "last 90 days": (date(2025, 12, 12), today),
        "this week": (date(2026, 3, 9), today),
        "last week": (date(2026, 3, 2), date(2026, 3, 8)),
        "month to date": (date(2026, 3, 1), today),
        "last month": (date(2026, 2, 1), date(2026, 2, 28)),
        "last 3 months": (date(2026, 1, 1), today),
        "last 6 months": (date(2025, 10, 1), today),
        "last 12 months": (date(2025, 4, 1), today),
        "quarter to date": (date(2026, 1, 1), today),
        "year to date": (date(2026, 1, 1), today),
    }
    assert set(expected) == set(periods.PRESETS)
    for name, span in expected.items():
        assert periods.preset(name, today) == span, name
    assert periods.preset("last month", date(2026, 1, 15)) == (
        date(2025, 12, 1),
        date(2025, 12, 31),
    )
    assert periods.preset("quarter to date", date(2026, 11, 30)) == (
        date(2026, 10, 1),
        date(2026, 11, 30),
    )


def _naive(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)  # type: ignore[misc]


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
def test_month_to_date_compares_the_same_elapsed_time_of_last_month(tz: str) -> None:
    now = datetime(2026, 3, 10, 14, 0, tzinfo=ZoneInfo(tz))
    start, end = periods.preset("month to date", periods.today_in(tz, now))
    got = periods.comparison(start, end, tz, now, "month to date")
    assert got.partial
    assert got.window.start == _naive(tz, 2026, 2, 1)
    assert got.window.end == _naive(tz, 2026, 2, 10, 14, 0)
    assert "the same elapsed time" in got.label and "14:00" in got.label
    assert got.short == "vs 1–10 Feb"  # the tile's few words; the label goes in its help


def test_whole_calendar_periods_compare_with_the_calendar_period_before() -> None:
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)
    got = periods.comparison(date(2026, 2, 1), date(2026, 2, 28), "UTC", now, "last month")
    assert not got.partial
    assert (got.window.start, got.window.end) == (datetime(2026, 1, 1), datetime(2026, 2, 1))
    ytd = periods.comparison(date(2028, 1, 1), date(2028, 2, 29), "UTC",
                             datetime(2028, 3, 5, tzinfo=UTC), "year to date")  # fmt: skip
    assert (ytd.window.start, ytd.window.end) == (datetime(2027, 1, 1), datetime(2027, 3, 1))
    custom = periods.comparison(date(2026, 2, 10), date(2026, 2, 16), "UTC", now, None)
    assert (custom.window.start, custom.window.end) == (datetime(2026, 2, 3), datetime(2026, 2, 10))
    assert (got.label, got.short) == ("vs 1 Jan–31 Jan 2026", "vs 1–31 Jan")
    assert ytd.short == "vs 1 Jan–28 Feb" and custom.short == "vs 3–9 Feb"


def test_a_running_rolling_period_compares_equal_lengths() -> None:
    now = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    start, end = periods.preset("last 7 days", now.date())
    got = periods.comparison(start, end, "UTC", now, "last 7 days")
    current = periods.window(start, end, "UTC")
    elapsed_now = now.replace(tzinfo=None) - current.start
    assert got.window.end - got.window.start == elapsed_now
    assert got.window.start == datetime(2026, 2, 25)


def _write(store: Store, name: str, stamps: list[datetime]) -> None:
    integ = store.add_integration(name, "local", {"paths": [name]})
    lines = [
        make_line(RecordSpec(request_id=f"{name}-{i}", ts=ts, model_id="amazon.nova-lite-v1:0"))
        for i, ts in enumerate(stamps)
    ]
    store.write_batch(integ.id, RawBatch(name, lines))


def test_the_headline_compares_like_for_like_and_not_with_missing_data(store: Store) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    # one invocation an hour: 1 Feb 00:00 → 10 Mar 11:00
    stamps = [datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(37 * 24 + 12)]
    _write(store, "old", stamps)
    start, end = periods.preset("month to date", now.date())
    head = explorer.headline(store, Filters(start, end), period="month to date", now=now)
    # 9.5 days this month vs the same 9.5 days of February: equal, not "-69%"
    assert head["invocations"] == head["previous_invocations"] == 9 * 24 + 12
    assert head["invocations_change"] == 0.0 and head["comparison_note"] is None
    # a brand-new integration: its data starts inside the previous period → no percentage
    _write(store, "new", [datetime(2026, 3, 9, tzinfo=UTC) + timedelta(hours=h) for h in range(30)])
    last_7 = periods.preset("last 7 days", now.date())
    head = explorer.headline(store, Filters(*last_7, integrations=("new",)), period="last 7 days",
                             now=now)  # fmt: skip
    assert head["invocations"] == 30 and head["invocations_change"] is None
    assert head["cost_change"] is None and "the data starts 9 Mar 2026" in head["comparison_note"]
