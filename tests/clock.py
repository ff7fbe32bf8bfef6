"""The moment every in-process test runs at: the clock is frozen there (``time-machine``).

Why: a test that reads the wall clock passes or fails by the hour — a record "today" is on
tomorrow's date in Asia/Kolkata from 18:30 UTC on, "last month" differs on the 31st. 20:20 UTC
is such an hour: Kolkata and Tokyo are already on the next day, Los Angeles is not.
The clock still ticks from there (``tick=True``), so timeouts and waits behave as in life.
"""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 3, 10, 20, 20, 0, tzinfo=UTC)
TODAY = NOW.date()
