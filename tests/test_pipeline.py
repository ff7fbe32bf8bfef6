"""The hand-off between a source's threads and the writer: ``ingest.arrived``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bedrock_explorer.ingest import arrived


def _slowly(n: int, pause: float = 0.0) -> Iterator[int]:
    for item in range(n):
        if pause:
            time.sleep(pause)
        yield item


def test_a_busy_consumer_gets_everything_that_arrived_meanwhile_in_order() -> None:
    groups = []
    for group in arrived(_slowly(40, 0.002), lambda _: 1, budget=1000):
        groups.append(group)
        time.sleep(0.03)  # the writer is busy: items pile up
    assert [item for group in groups for item in group] == list(range(40))
    assert len(groups) < 20 and max(len(g) for g in groups) > 1


def test_the_producer_waits_at_the_budget() -> None:
    groups = []
    for group in arrived(_slowly(30), lambda _: 10, budget=25):
        groups.append(group)
        time.sleep(0.01)
    assert [item for group in groups for item in group] == list(range(30))
    assert max(sum(10 for _ in g) for g in groups) <= 25 + 10  # the budget, plus one item


def test_an_item_above_the_budget_alone_still_passes() -> None:
    assert list(arrived(iter([1, 2]), lambda _: 100, budget=10)) == [[1], [2]]


def test_what_arrived_before_a_failure_is_handed_on_then_the_error() -> None:
    def failing() -> Iterator[int]:
        yield from range(5)
        raise RuntimeError("AccessDenied on object 6")

    received: list[int] = []
    with pytest.raises(RuntimeError, match="object 6"):
        for group in arrived(failing(), lambda _: 1, budget=100):
            received.extend(group)
    assert received == list(range(5))


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    # Threads this test started (not a count: another test's thread may end meanwhile).
    before = set(threading.enumerate())
    for group in arrived(endless(), lambda _: 1, budget=5):
        assert group
        assert set(threading.enumerate()) - before, "the producer runs in a thread"
        break
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not set(threading.enumerate()) - before, "the producer thread is still running"
    assert len(produced) < 20  # the budget held it back


def test_prefetch_makes_the_next_item_only_once_the_previous_one_is_taken() -> None:
    from bedrock_explorer.ingest import prefetch

    made: list[int] = []

    def tracked() -> Iterator[int]:
        for n in range(6):
            made.append(n)
            yield n

    for item in prefetch(tracked()):
        time.sleep(0.02)
        # the consumer holds `item`; at most the one after it has been made
        assert len(made) <= item + 2
