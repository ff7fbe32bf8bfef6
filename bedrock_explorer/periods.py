"""Date presets and like-for-like comparisons, in the user's display time zone.

Why its own module, pure and clock-injected: "today" is a date *in a zone* (at 05:57 in Tokyo it
is already tomorrow in UTC terms), a preset must mean the same period whenever a link is opened,
and a comparison must set equal lengths of time side by side — month to date against the same
elapsed time of last month, not 12 hours of today against a whole day. Every function takes the
moment it is asked at, so the tests fix it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bedrock_explorer.errors import UserFacingError

PRESETS = (
    "today",
    "yesterday",
    "last 7 days",
    "last 30 days",
    "last 90 days",
    "this week",
    "last week",
    "month to date",
    "last month",
    "last 3 months",
    "last 6 months",
    "last 12 months",
    "quarter to date",
    "year to date",
)
#: What a preset covers, for the period picker's help.
MEANINGS = {
    "today": "today so far",
    "last 7 days": "the last 7 days, today included (likewise 30 and 90)",
    "this week": "Monday to today",
    "last week": "last Monday to Sunday",
    "month to date": "the 1st of this month to today",
    "last month": "the whole of last month",
    "last 3 months": "the 1st of the month two months ago to today (likewise 6 and 12)",
    "quarter to date": "the first day of this quarter to today",
    "year to date": "1 January to today",
}


def today_in(tz: str, now: datetime) -> date:
    """The date it is in ``tz`` at ``now`` (an aware moment)."""
    return now.astimezone(ZoneInfo(tz)).date()


def _months_back(day: date, months: int) -> date:
    """The 1st of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def preset(name: str, today: date) -> tuple[date, date]:
    """The first and last day (inclusive) of a preset, ``today`` being the zone's date."""
    if name == "today":
        return today, today
    if name == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if name in ("last 7 days", "last 30 days", "last 90 days"):
        return today - timedelta(days=int(name.split()[1]) - 1), today
    monday = today - timedelta(days=today.weekday())
    if name == "this week":
        return monday, today
    if name == "last week":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if name == "month to date":
        return today.replace(day=1), today
    if name == "last month":
        first = _months_back(today, 1)
        return first, _month_end(first)
    if name in ("last 3 months", "last 6 months", "last 12 months"):
        return _months_back(today, int(name.split()[1]) - 1), today
    if name == "quarter to date":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    if name == "year to date":
        return date(today.year, 1, 1), today
    raise UserFacingError(f"Unknown date preset {name!r}", f"use one of {', '.join(PRESETS)}")


@dataclass(frozen=True)
class Window:
    """A span of time as naive UTC instants, ``[start, end)`` (how timestamps are stored)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Comparison:
    """What a period is compared with: the window before it, and in words."""

    window: Window
    #: how the page says it, e.g. "vs 1 Oct to 10 Oct 14:00 (the same elapsed time)"
    label: str
    #: the current period is still running (it ends after now): its last bucket is partial
    partial: bool
    #: the same in a few words for a 200 px headline tile ("vs 4 Oct to 2 Nov", with a dash);
    #: the full label goes in the tile's help
    short: str = ""


def is_running(span: Window, now: datetime) -> bool:
    """Whether ``now`` (aware) falls inside the span: its last bucket is still filling."""
    moment = now.astimezone(UTC).replace(tzinfo=None)
    return span.start < moment < span.end


def _utc(day: date, tz: str) -> datetime:
    """Midnight starting ``day`` in ``tz``, as naive UTC."""
    local = datetime.combine(day, time(), tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC).replace(tzinfo=None)


def window(start: date, end: date, tz: str) -> Window:
    """The days ``start``..``end`` (inclusive) of the zone, as a UTC window."""
    return Window(_utc(start, tz), _utc(end + timedelta(days=1), tz))


def _span(start: date, end: date) -> str:
    if start == end:
        return f"{start:%-d %b %Y}"
    if start.year == end.year:
        return f"{start:%-d %b}–{end:%-d %b %Y}"
    return f"{start:%-d %b %Y}–{end:%-d %b %Y}"


def _short_span(start: date, end: date) -> str:
    """A span without its year: "4 Oct", "1-10 Oct", "4 Oct-2 Nov" (with an en dash)."""
    if start == end:
        return f"{start:%-d %b}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%-d}–{end:%-d %b}"
    return f"{start:%-d %b}–{end:%-d %b}"


def _shift(day: date, *, months: int = 0, years: int = 0) -> date:
    """The same day of the month ``months``/``years`` earlier, clamped to that month's end."""
    first = _months_back(day, months + 12 * years)
    return first.replace(day=min(day.day, _month_end(first).day))


def comparison(start: date, end: date, tz: str, now: datetime, period: str | None) -> Comparison:
    """The like-for-like previous window of the days ``start``..``end`` in ``tz``.

    Calendar presets compare with the calendar period before (last month with the month before
    it, this quarter with the last); other ranges with the same number of days just before. A
    period still running at ``now`` is compared over the *same elapsed time* only: month to
    date at the 10th, 14:00 against the 1st to the 10th, 14:00 of last month.
    """
    partial = is_running(window(start, end, tz), now)
    if period in ("month to date", "last month", "last 3 months", "last 6 months",
                  "last 12 months"):  # fmt: skip
        months = {"month to date": 1, "last month": 1}.get(period) or int(str(period).split()[1])
        prev_start, prev_end = _shift(start, months=months), _shift(end, months=months)
        if period == "last month":
            prev_end = _month_end(prev_start)
    elif period == "quarter to date":
        prev_start, prev_end = _shift(start, months=3), _shift(end, months=3)
    elif period == "year to date":
        prev_start, prev_end = _shift(start, years=1), _shift(end, years=1)
    else:
        days = (end - start).days + 1
        prev_start, prev_end = start - timedelta(days=days), start - timedelta(days=1)
    before = window(prev_start, prev_end, tz)
    if partial:
        # elapsed on the zone's clock (a daylight-saving change in between moves no hour)
        zone = ZoneInfo(tz)
        elapsed = now.astimezone(zone).replace(tzinfo=None) - datetime.combine(start, time())
        cut_local = min(
            datetime.combine(prev_start, time()) + elapsed,
            datetime.combine(prev_end + timedelta(days=1), time()),
        )
        cut = cut_local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        return Comparison(
            Window(before.start, cut),
            f"vs {_span(prev_start, cut_local.date())} to {cut_local:%H:%M} "
            "(the same elapsed time)",
            True,
            f"vs {_short_span(prev_start, cut_local.date())}",
        )
    label = f"vs {_span(prev_start, prev_end)}"
    return Comparison(before, label, False, f"vs {_short_span(prev_start, prev_end)}")
