"""Property-based fuzzing (hypothesis) of the line parser, the writer and the file reader.

For any batch: inserted + duplicates + quarantined + blank = lines, no exception escapes, and no
byte of the input reaches a stored message. The budget is fixed (examples, no deadline), so the
run takes the same time in CI every day; the database is the real DuckDB.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedrock_explorer.ingest import import_paths
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from tests.conftest import line

CANARY = "CANARY-9d1f"
_names = itertools.count()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.just(CANARY),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

TOKEN_FIELDS = [
    ("input", "inputTokenCount"),
    ("input", "cacheReadInputTokenCount"),
    ("input", "cacheWriteInputTokenCount"),
    ("output", "outputTokenCount"),
]
FIELDS = [
    *TOKEN_FIELDS,
    ("timestamp",),
    ("requestId",),
    ("modelId",),
    ("accountId",),
    ("region",),
    ("operation",),
    ("requestMetadata",),
    ("identity", "arn"),
    ("output", "outputBodyJson"),
    ("input", "inputBodyJson"),
]


#: Values each kind of field is tried with: the edges of its range first, then anything.
token_values = st.sampled_from(
    [2**63 - 1, 5 * 10**18, 10**9, 10**9 + 1, -1, 0, "12.5", "0x10", "1e3", "42", 12.5]
) | st.integers(min_value=-(2**64), max_value=2**64)
timestamp_values = st.sampled_from(
    [
        "infinity",
        "-infinity",
        "epoch",
        "0000-01-01T00:00:00Z",
        "1989-12-31T23:59:59Z",
        "2101-01-01T00:00:00Z",
        "2025-06-01T12:00:00+25:00",
        "2025-06-01T12:00:00+14:00",
        "2025-06-01T12:00:00.123456789Z",
    ]
) | st.datetimes().map(lambda d: d.isoformat() + "Z")
id_values = st.sampled_from([42, True, [1], {}, "\t", "", " ", "x" * 3000]) | st.text(max_size=20)


def _values_for(path: tuple[str, ...]) -> st.SearchStrategy[object]:
    if path in TOKEN_FIELDS:
        return token_values | json_values
    if path == ("timestamp",):
        return timestamp_values | json_values
    if path in (("requestId",), ("modelId",)):
        return id_values | json_values
    return json_values


@st.composite
def mutated_record(draw: st.DrawFn) -> str:
    record = json.loads(line(request_id=f"{CANARY}-{draw(st.integers(0, 5))}"))
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(FIELDS))
        target = record
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if draw(st.integers(0, 3)):
            target[path[-1]] = draw(_values_for(path))
        else:
            target.pop(path[-1], None)
    text = json.dumps(record, ensure_ascii=draw(st.booleans()))
    cut = draw(st.none() | st.integers(0, len(text)))
    return text if cut is None else text[:cut] + CANARY + "日本😀"


#: Malformed lines with multi-byte text early on: the engine's message quotes the line's first
#: ~50 bytes and can end mid-character.
multibyte_malformed = st.builds(
    lambda pad, text: '{"requestId":"x", "a":"' + "x" * pad + text + CANARY + '" , oops',
    st.integers(0, 30),
    st.text(alphabet="日本語のプロンプト😀é", min_size=20, max_size=40),
)

any_line = st.one_of(
    mutated_record(),
    mutated_record(),
    multibyte_malformed,
    st.text(max_size=80),
    st.just(""),
    st.just("   \t"),
    st.builds(lambda s: "[" * s + "]" * s, st.integers(1, 3000)),
    st.builds(lambda t: '{"requestId": "' + t, st.text(max_size=40)),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(lines=st.lists(any_line, min_size=1, max_size=25))
def test_every_line_is_accounted_for_and_no_input_reaches_a_message(
    store: Store, lines: list[str]
) -> None:
    integ = store.add_integration(f"fuzz-{next(_names)}", "local", {})
    result = store.write_batch(integ.id, RawBatch("fuzz", lines))
    assert result.inserted + result.duplicates + result.quarantined + result.blank == len(lines)
    reasons = store.con.execute(
        "SELECT reason FROM quarantine WHERE integration_id = ?", [integ.id]
    ).fetchall()
    assert len(reasons) == result.quarantined
    assert not any(CANARY in r or "日本" in r for (r,) in reasons)
    stored = store.con.execute(
        "SELECT max(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), "
        "min(ts), max(ts) FROM invocations WHERE integration_id = ?",
        [integ.id],
    ).fetchall()[0]
    if result.inserted:
        assert stored[0] <= 4 * 1_000_000_000
        assert stored[1].year >= 1990 and stored[2].year <= 2100


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.lists(any_line, max_size=10).map(lambda ls: "\n".join(ls).encode()),
        st.lists(any_line, max_size=10).map(lambda ls: ("[" + ",".join(ls)).encode()),
    ),
    gz=st.booleans(),
    cut=st.none() | st.integers(0, 400),
    suffix=st.sampled_from([".jsonl", ".json", ".log"]),
)
def test_any_file_imports_without_an_exception(
    store: Store, tmp_path: Path, content: bytes, gz: bool, cut: int | None, suffix: str
) -> None:
    data = gzip.compress(content) if gz else content
    if cut is not None:
        data = data[:cut]
    folder = tmp_path / f"case-{next(_names)}"
    folder.mkdir()
    (folder / f"f{suffix}{'.gz' if gz else ''}").write_bytes(data)
    summary = import_paths(store, [str(folder)], f"files-{folder.name}")
    assert summary.inserted + summary.duplicates <= summary.lines
    messages = store.con.execute("SELECT reason FROM quarantine").fetchall()
    assert not any(CANARY in r for (r,) in messages)
