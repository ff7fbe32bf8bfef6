"""Records out of JSON *documents* — arrays, pretty-printed or concatenated objects, the output of
``aws logs filter-log-events`` — read as a stream, one record at a time.

Why a streaming parser (``ijson``, whose C backend is yajl) rather than ``json.loads``: a whole
document in memory cost its full inflated size (a 522 KB gzip array took 14 GB), one nested
deeper than ~990 levels raised ``RecursionError`` and lost the file, and a pretty-printed record
(the layout a ``.json`` file usually has) was read line by line as 58 malformed lines. Here each
record is built alone, with a depth and a size limit, and handed on as one compact JSON line for
the same SQL parse as every other line; a record over a limit is reported in its place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import ijson

from bedrock_explorer.sources.byte_stream import MAX_RECORD_BYTES, DamagedInput

#: The deepest nesting a record may have (a Bedrock record nests ~10 levels; bodies a few more).
MAX_DEPTH = 256

_OPEN = {"start_map", "start_array"}
_CLOSE = {"end_map", "end_array"}


@dataclass(frozen=True)
class Item:
    """One record of a document: its JSON line, or why it has none (``line`` is then None)."""

    ref: str
    line: str | None
    problem: str | None = None


class _ChunkReader:
    """A file-like ``read`` over byte chunks, as ijson wants one."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._it)
            except StopIteration:
                break
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


class _Builder:
    """Builds one value from parse events; past a limit it stops building and only counts depth,
    so a hostile value costs a counter, not memory."""

    def __init__(self) -> None:
        self.stack: list[list[object] | dict[str, object]] = []
        self.keys: list[str | None] = []
        self.value: object = None
        self.size = 0
        self.problem: str | None = None
        self._depth = 0  # used once a problem is found

    def event(self, kind: str, value: object) -> bool:
        """Take one event; True when the value is complete."""
        if self.problem is not None:
            self._depth += (kind in _OPEN) - (kind in _CLOSE)
            return self._depth == 0
        if kind in _OPEN:
            if len(self.stack) >= MAX_DEPTH:
                return self._give_up(f"record nested deeper than {MAX_DEPTH} levels", 1)
            container: list[object] | dict[str, object] = {} if kind == "start_map" else []
            self._add(container)
            self.stack.append(container)
            self.keys.append(None)
            return False
        if kind in _CLOSE:
            done = self.stack.pop()
            self.keys.pop()
            if not self.stack:
                self.value = done
                return True
            return False
        self.size += len(value) if isinstance(value, str) else 8
        if self.size > MAX_RECORD_BYTES:
            return self._give_up(f"record larger than {MAX_RECORD_BYTES // 2**20} MB", 0)
        if kind == "map_key":
            self.keys[-1] = str(value)  # ijson's map keys are text
            return False
        if not self.stack:
            self.value = value
            return True
        self._add(value)
        return False

    def _give_up(self, problem: str, opened: int) -> bool:
        self.problem = problem
        self._depth = len(self.stack) + opened
        self.stack, self.keys = [], []
        return self._depth == 0

    def _add(self, value: object) -> None:
        if not self.stack:
            return
        top = self.stack[-1]
        if isinstance(top, list):
            top.append(value)
        else:
            top[self.keys[-1]] = value  # type: ignore[index]

    def feed(self, kind: str, value: object, events: Iterator[tuple[str, object]]) -> None:
        """Build from ``(kind, value)`` on, taking events until the value is complete."""
        if self.event(kind, value):
            return
        for kind, value in events:
            if self.event(kind, value):
                return


def _line(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=_default, ensure_ascii=False)


def items(chunks: Iterable[bytes]) -> Iterator[Item]:
    """Every record of the document(s) in ``chunks`` (UTF-8 bytes), in order.

    * a top-level array: each element is a record (``item N``);
    * a top-level object whose first key is ``events`` or ``searchedLogStreams``: the events'
      ``message`` strings are the records (locator ``<log stream>/<event id>``);
    * any other top-level value: a record (``document N``); several may follow one another.

    Raises :class:`DamagedInput` when the text stops being JSON; the items before it were
    yielded.
    """
    events = ijson.basic_parse(_ChunkReader(chunks), multiple_values=True, use_float=False)
    documents = 0
    try:
        for kind, value in events:
            documents += 1
            if kind == "start_array":
                yield from _array_items(events)
            elif kind == "start_map":
                yield from _map_document(events, documents)
            else:
                yield Item(f"document {documents}", _line(value))
    except ijson.common.IncompleteJSONError as err:
        what = "ends early" if "incomplete" in str(err).lower() else "stops being valid JSON"
        raise DamagedInput(f"the JSON document {what}") from None


def _array_items(events: Iterator[tuple[str, object]]) -> Iterator[Item]:
    for n, (kind, value) in enumerate(events, start=1):
        if kind == "end_array":
            return
        yield _build(f"item {n}", kind, value, events)


def _build(ref: str, kind: str, value: object, events: Iterator[tuple[str, object]]) -> Item:
    builder = _Builder()
    builder.feed(kind, value, events)
    if builder.problem is not None:
        return Item(ref, None, builder.problem)
    return Item(ref, _line(builder.value))


def _map_document(events: Iterator[tuple[str, object]], number: int) -> Iterator[Item]:
    kind, key = next(events)
    if kind == "end_map":
        yield Item(f"document {number}", "{}")
        return
    if key in ("events", "searchedLogStreams"):
        yield from _filter_log_events(events, key)
        return
    # An ordinary record: build it from its first key on.
    builder = _Builder()
    builder.event("start_map", None)
    builder.feed("map_key", key, events)
    if builder.problem is not None:
        yield Item(f"document {number}", None, builder.problem)
    else:
        yield Item(f"document {number}", _line(builder.value))


def _filter_log_events(events: Iterator[tuple[str, object]], key: str) -> Iterator[Item]:
    """The events of an ``aws logs filter-log-events`` document, one event at a time."""
    n = 0
    while True:
        if key == "events":
            kind, _ = next(events)
            if kind != "start_array":
                _skip_value(kind, events)
            else:
                for kind, value in events:
                    if kind == "end_array":
                        break
                    n += 1
                    builder = _Builder()
                    builder.feed(kind, value, events)
                    yield _event_item(builder, n)
        else:
            kind, _ = next(events)
            _skip_value(kind, events)
        kind, key = next(events)  # type: ignore[assignment]
        if kind == "end_map":
            return


def _event_item(builder: _Builder, n: int) -> Item:
    event = builder.value if isinstance(builder.value, dict) else {}
    stream = event.get("logStreamName", "?")
    ref = f"{stream}/{event.get('eventId', f'event {n}')}"
    if builder.problem is not None:
        return Item(ref, None, builder.problem)
    message = event.get("message")
    # An event without a text message is still a line we were given: "null" makes the parser
    # quarantine it ("not a JSON object") instead of dropping it unseen.
    return Item(ref, message if isinstance(message, str) else "null")


def _skip_value(kind: str, events: Iterator[tuple[str, object]]) -> None:
    if kind not in _OPEN:
        return
    depth = 1
    for kind, _ in events:
        if kind in _OPEN:
            depth += 1
        elif kind in _CLOSE:
            depth -= 1
            if depth == 0:
                return
