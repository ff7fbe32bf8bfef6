"""CloudWatch Logs source: ``FilterLogEvents`` over time slices, fetched concurrently, resumable.

Why slices: one ``FilterLogEvents`` pagination is a chain of sequential requests, each waiting on
the last one's ``nextToken``. Splitting the sync window into time slices lets a few chains run side
by side within the API's quota (about 5 requests per second per account and region, shared by every
tool reading the account's logs), which is where the time of a first sync goes.

Why a checkpoint per slice: each page is handed on with the slice's position after it (its
``nextToken``, or *done*) and the writer commits that position in the same transaction as the page's
rows. A process killed at any moment resumes every slice from its last committed page; pages
fetched again are harmless because the store keeps one row per ``requestId``. A ``nextToken`` that
AWS no longer accepts restarts its slice, for the same reason.

Pagination rules that real AWS needs and moto does not show: an empty page with a ``nextToken`` is
not the end; only a page without ``nextToken`` is.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions

from bedrock_explorer.raw import RawBatch

#: Re-read this much before the last sync's end: CloudWatch can receive an event minutes after
#: its timestamp, and a re-read record is stored once anyway.
OVERLAP = timedelta(minutes=30)
#: Stop this far before now: the newest minute of events may still be arriving.
LATENCY_BUFFER = timedelta(minutes=2)
#: The FilterLogEvents quota is 5 transactions per second per account and region, shared by
#: every tool reading the account's logs: ``BEDROCK_EXPLORER_CLOUDWATCH_RPS`` leaves some to them.
RPS_ENV_VAR = "BEDROCK_EXPLORER_CLOUDWATCH_RPS"


def _requests_per_second(default: float = 5.0) -> float:
    text = os.environ.get(RPS_ENV_VAR, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if 0 < value <= default else default


REQUESTS_PER_SECOND = _requests_per_second()
WORKERS = 4
MIN_SLICE = timedelta(hours=1)
MAX_SLICE = timedelta(days=1)
TARGET_SLICES = 4 * WORKERS
PAGE_LIMIT = 10_000  # the most events FilterLogEvents returns per page

KEY_SYNCED_TO = "cloudwatch:synced_to"
KEY_RUN = "cloudwatch:run"
SLICE_PREFIX = "cloudwatch:slice:"


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True)
class Slice:
    """Events with ``start_ms <= timestamp < end_ms``."""

    start_ms: int
    end_ms: int

    @property
    def key(self) -> str:
        return f"{SLICE_PREFIX}{self.start_ms}"


@dataclass(frozen=True)
class Position:
    """Where a slice stands: the token of its next page, or done."""

    token: str | None = None
    done: bool = False

    def dumps(self) -> str:
        return json.dumps({"token": self.token, "done": self.done})

    @classmethod
    def loads(cls, text: str | None) -> Position:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data.get("token"), bool(data.get("done")))


@dataclass(frozen=True)
class Window:
    """The time range one sync run covers; ``resumed`` when it continues an interrupted run."""

    start_ms: int
    end_ms: int
    resumed: bool = False

    def dumps(self) -> str:
        return json.dumps({"start": self.start_ms, "end": self.end_ms})


def plan_window(
    checkpoints: dict[str, str],
    *,
    now: datetime,
    since: datetime | None,
    first_sync_days: int,
) -> Window:
    """The window of this run: an interrupted run is finished first (unless ``since`` is given),
    else from the last sync's end minus :data:`OVERLAP`, else ``first_sync_days`` back."""
    end = to_ms(now - LATENCY_BUFFER)
    if since is None and KEY_RUN in checkpoints:
        run = json.loads(checkpoints[KEY_RUN])
        return Window(int(run["start"]), int(run["end"]), resumed=True)
    if since is not None:
        start = to_ms(since)
    elif KEY_SYNCED_TO in checkpoints:
        start = int(checkpoints[KEY_SYNCED_TO]) - int(OVERLAP.total_seconds() * 1000)
    else:
        start = to_ms(now - timedelta(days=first_sync_days))
    return Window(min(start, end), end)


def plan_slices(window: Window) -> list[Slice]:
    """Split a window into slices (deterministic, so a resumed run finds the same slices)."""
    span = window.end_ms - window.start_ms
    if span <= 0:
        return [Slice(window.start_ms, window.end_ms)]
    lo, hi = int(MIN_SLICE.total_seconds() * 1000), int(MAX_SLICE.total_seconds() * 1000)
    size = min(max(span // TARGET_SLICES, lo), hi)
    starts = range(window.start_ms, window.end_ms, size)
    return [Slice(s, min(s + size, window.end_ms)) for s in starts]


class RateLimiter:
    """At most ``rate`` calls per second across threads (evenly spaced, no bursts)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)


@dataclass
class _Page:
    slice: Slice
    events: list[dict[str, Any]]
    position: Position


class _Stop(Exception):
    """The consumer went away; the worker ends quietly."""


class LogGroupReader:
    """Reads one log group's events for a window as raw batches, slices fetched concurrently."""

    def __init__(
        self,
        logs_client: Any,
        log_group: str,
        *,
        requests_per_second: float | None = REQUESTS_PER_SECOND,
        workers: int = WORKERS,
    ) -> None:
        self.client = logs_client
        self.log_group = log_group
        self.limiter = RateLimiter(requests_per_second)
        self.workers = workers
        self.requests = 0
        self.events = 0
        self.slices_done = 0
        self.slices_total = 0

    def batches(self, window: Window, positions: dict[str, Position]) -> Iterator[RawBatch]:
        """One batch per page, each carrying its slice's position after that page.

        The first batch also records the run's window, so an interrupted run is finished before
        a new one starts.
        """
        slices = plan_slices(window)
        todo = [s for s in slices if not positions.get(s.key, Position()).done]
        self.slices_total = len(slices)
        self.slices_done = len(slices) - len(todo)
        yield RawBatch(self.log_group, [], refs=[], checkpoints={KEY_RUN: window.dumps()})
        if not todo:
            return
        pages: queue.Queue[_Page | BaseException | None] = queue.Queue(maxsize=2 * self.workers)
        stop = threading.Event()

        def put(item: _Page | BaseException | None) -> None:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue
            raise _Stop

        def work(s: Slice) -> None:
            try:
                self._fetch_slice(s, positions.get(s.key, Position()), put, stop)
                put(None)
            except _Stop:
                return
            except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
                try:
                    put(err)
                except _Stop:
                    return

        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(todo)))
        try:
            for s in todo:
                pool.submit(work, s)
            finished = 0
            while finished < len(todo):
                item = pages.get()
                if item is None:
                    finished += 1
                    continue
                if isinstance(item, BaseException):
                    raise item
                if item.position.done:
                    self.slices_done += 1
                yield self._batch(item)
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_slice(self, s: Slice, position: Position, put: Any, stop: threading.Event) -> None:
        token = position.token
        while not stop.is_set():
            kwargs: dict[str, Any] = {
                "logGroupName": self.log_group,
                "startTime": s.start_ms,
                "endTime": s.end_ms - 1,  # endTime is inclusive
                "limit": PAGE_LIMIT,
            }
            if token:
                kwargs["nextToken"] = token
            self.limiter.wait()
            try:
                response = self.client.filter_log_events(**kwargs)
            except botocore.exceptions.ClientError as err:
                error = err.response.get("Error", {})
                stale = (
                    error.get("Code") == "InvalidParameterException"
                    and "token" in str(error.get("Message", "")).lower()
                )
                if token and stale:
                    token = None  # the token expired: read the slice again from its start
                    continue
                raise
            self.requests += 1
            events = response.get("events") or []
            token = response.get("nextToken")
            self.events += len(events)
            put(_Page(s, events, Position(token, done=token is None)))
            if token is None:
                return

    def _batch(self, page: _Page) -> RawBatch:
        events = page.events
        return RawBatch(
            self.log_group,
            [e.get("message") or "" for e in events],
            refs=[f"{e.get('logStreamName', '?')} event {e.get('eventId', '?')}" for e in events],
            checkpoints={page.slice.key: page.position.dumps()},
            nbytes=sum(len(e.get("message") or "") for e in events),
        )


def list_log_groups(logs_client: Any, limit: int = 2000) -> list[str]:
    """The log group names of the account and region (for the wizard's picker and suggestions)."""
    names: list[str] = []
    for page in logs_client.get_paginator("describe_log_groups").paginate():
        names.extend(g["logGroupName"] for g in page.get("logGroups", []))
        if len(names) >= limit:
            break
    return names


def log_group_exists(logs_client: Any, name: str) -> bool:
    """Whether a log group with exactly this name exists (the prefix search is case-sensitive)."""
    pages = logs_client.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name)
    return any(g["logGroupName"] == name for page in pages for g in page.get("logGroups", []))


#: The connection test's sample: windows tried newest first (FilterLogEvents answers oldest
#: first, so a narrow window is what makes the sample recent), and pages read at most per window
#: (it may answer a page with no events and a token while it scans).
SAMPLE_WINDOWS = (timedelta(hours=1), timedelta(days=2), timedelta(days=30), None)
RECENT = timedelta(days=2)
SAMPLE_PAGES = 5


def sample_event(logs_client: Any, name: str, now: datetime) -> tuple[dict[str, Any] | None, bool]:
    """One event read the way the sync reads (``FilterLogEvents``, limit 1), and whether it is
    from the last :data:`RECENT`; ``(None, False)`` when the group holds none."""
    for window in SAMPLE_WINDOWS:
        kwargs: dict[str, Any] = {"logGroupName": name, "limit": 1}
        if window is not None:
            kwargs["startTime"] = to_ms(now - window)
        for _ in range(SAMPLE_PAGES):
            page = logs_client.filter_log_events(**kwargs)
            if page.get("events"):
                return page["events"][0], window is not None and window <= RECENT
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return None, False
