"""The metadata set on each invocation (store/metadata_sets.py): every row with a
``requestMetadata`` map gets the set of exactly that map, by every way rows are written, and an
older file gets sets on opening. The Explorer's metadata keys and cost by a key read the sets,
so a wrong set would put one team's spend under another's name."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bedrock_explorer import explorer
from bedrock_explorer.explorer import Filters
from bedrock_explorer.ingest import import_paths
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store, metadata_sets, schema
from tests.conftest import line

_WRONG_SETS = """
SELECT count(*) FROM invocations i LEFT JOIN metadata_sets s ON s.set_id = i.metadata_set
WHERE (i.request_metadata IS NULL) <> (i.metadata_set IS NULL)
   OR (i.request_metadata IS NOT NULL AND s.request_metadata IS DISTINCT FROM i.request_metadata)
"""

TEAMS = ({"team": "search"}, {"team": "ads", "app": "web"}, {}, None, {"team": "search"})


def _lines(prefix: str, maps: tuple[dict[str, str] | None, ...]) -> list[str]:
    out = []
    for n, meta in enumerate(maps):
        extra = {} if meta is None else {"request_metadata": meta}
        out.append(line(request_id=f"{prefix}{n}", **extra))
    return out


def _count(store: Store, sql: str) -> int:
    return int(store.con.execute(sql).fetchall()[0][0])


def test_each_batch_gives_every_map_its_set_and_a_new_map_one_set(store: Store) -> None:
    integ = store.add_integration("x", "local")
    store.write_batch(integ.id, RawBatch("a", _lines("a", TEAMS)))
    assert _count(store, _WRONG_SETS) == 0
    known = _count(store, "SELECT count(*) FROM metadata_sets")
    assert known == 2  # search, ads+web; none for a record without a map or with an empty one
    # A second batch: two maps seen before, one new.
    store.write_batch(integ.id, RawBatch("b", _lines("b", (TEAMS[0], TEAMS[1], {"team": "x"}))))
    assert _count(store, "SELECT count(*) FROM metadata_sets") == known + 1
    assert _count(store, _WRONG_SETS) == 0
    assert _count(store, "SELECT count(*) FROM invocations") == 8


def test_files_read_by_duckdb_itself_get_their_sets(store: Store, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("\n".join(_lines("f", TEAMS)) + "\n")
    import_paths(store, [str(tmp_path)], "files")
    assert _count(store, "SELECT count(*) FROM invocations") == len(TEAMS)
    assert _count(store, _WRONG_SETS) == 0
    assert _count(store, "SELECT count(*) FROM metadata_sets") == 2


def test_an_older_file_gets_sets_when_opened(db_path: Path) -> None:
    with Store(db_path) as store:
        integ = store.add_integration("old", "local")
        store.write_batch(integ.id, RawBatch("a", _lines("o", TEAMS)))
        f = explorer.Filters(date(2000, 1, 1), date(2099, 1, 1))
        expected = explorer.grouped(store, f, ["metadata"], meta_key="team")
        # What schema 11 stored: no set column, no set table.
        store.con.execute("ALTER TABLE invocations DROP COLUMN metadata_set")
        store.con.execute("DROP TABLE metadata_sets")
        store.con.execute("DELETE FROM schema_version WHERE version >= 12")
    with Store(db_path) as store:
        assert schema.current_version(store.con) == schema.SCHEMA_VERSION
        assert _count(store, _WRONG_SETS) == 0
        got = explorer.grouped(store, f, ["metadata"], meta_key="team")
        assert got.to_dict("records") == expected.to_dict("records")
        assert set(got["metadata"]) == {"search", "ads", "(none)"}


def test_rows_inserted_by_sql_get_sets_from_assign_missing(store: Store) -> None:
    integ = store.add_integration("x", "local")
    store.write_batch(integ.id, RawBatch("a", _lines("a", TEAMS[:1])))
    store.con.execute(
        "UPDATE invocations SET metadata_set = NULL, request_metadata = MAP {'k': 'v'}"
    )
    assert metadata_sets.assign_missing(store.con) == 1
    assert _count(store, _WRONG_SETS) == 0


def _questions(store: Store) -> dict[str, object]:
    """Every metadata question the Explorer asks, answered."""
    f = Filters(date(2000, 1, 1), date(2099, 1, 1))
    ads = replace(f, metadata=(("team", "ads"),))
    memo: dict = {}
    keys, pairs = explorer.metadata_summary(store, f)
    return {
        "keys": keys,
        "pairs": pairs,
        "ranked": explorer.keys_by_spend(store, f, keys, memo),
        "by team": explorer.grouped(store, f, ["metadata"], meta_key="team").to_dict("records"),
        "by team, page": explorer.grouped(store, f, ["metadata"], meta_key="team", memo=memo)
        .drop(columns="price_reasons", errors="ignore")
        .to_dict("records"),
        "by run per day": explorer.grouped(
            store, f, ["metadata"], meta_key="run", time_bucket=True
        ).to_dict("records"),
        "ads count": explorer.detail_count(store, ads),
        "ads rows": sorted(explorer.detail_page(store, ads)["request_id"]),
        "ads cost": explorer.grouped(store, ads, [])["cost"].sum(),
    }


def test_past_the_cap_the_store_reads_the_maps_and_every_answer_stays(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key on every request (a run id) makes a set per invocation: past the cap the store
    stops making sets, for good, and answers every metadata question from the maps — the same
    answers as a store that never had that many."""
    first = (*TEAMS, {"team": "ads", "run": "1"}, {"team": "ads", "run": "2"})
    later = tuple({"team": ("ads", "search")[n % 2], "run": str(10 + n)} for n in range(6))
    with Store(tmp_path / "few.duckdb") as few:  # a generous cap: sets all along
        integ = few.add_integration("x", "local")
        few.write_batch(integ.id, RawBatch("a", _lines("a", first)))
        few.write_batch(integ.id, RawBatch("b", _lines("b", later)))
        assert not metadata_sets.direct(few.con)
        expected = _questions(few)
    monkeypatch.setattr(metadata_sets, "CAP", 3)
    with Store(db_path) as many:
        integ = many.add_integration("x", "local")
        many.write_batch(integ.id, RawBatch("a", _lines("a", first)))
        assert metadata_sets.direct(many.con)  # 5 distinct maps > 3
        known = _count(many, "SELECT count(*) FROM metadata_sets")
        many.write_batch(integ.id, RawBatch("b", _lines("b", later)))
        assert _count(many, "SELECT count(*) FROM metadata_sets") == known  # no more sets
        assert _count(many, "SELECT count(*) FROM invocations WHERE request_id LIKE 'b%' "
                            "AND metadata_set IS NULL") == len(later)  # fmt: skip
        got = _questions(many)
    assert got == expected
    assert expected["ads count"] == 6 and expected["keys"] == ["team", "run", "app"]


def test_an_older_file_with_too_many_maps_is_read_directly(db_path: Path) -> None:
    assert f"> {metadata_sets.CAP}" in schema.MIGRATIONS[11]  # the migration's cap is the cap
    with Store(db_path) as store:
        integ = store.add_integration("old", "local")
        store.write_batch(integ.id, RawBatch("a", _lines("o", TEAMS[:1])))
        store.con.execute(
            "INSERT INTO invocations SELECT i.* REPLACE ('u' || n AS request_id, "
            "MAP {'user': 'u' || n} AS request_metadata) FROM invocations i, range(?) t(n)",
            [metadata_sets.CAP + 1],
        )
        store.con.execute("ALTER TABLE invocations DROP COLUMN metadata_set")
        store.con.execute("DROP TABLE metadata_sets")
        store.con.execute("DELETE FROM schema_version WHERE version >= 12")
    with Store(db_path) as store:
        assert metadata_sets.direct(store.con)
        assert _count(store, "SELECT count(*) FROM metadata_sets") == 0
        keys, _pairs = explorer.metadata_summary(store, Filters(date(2000, 1, 1), date(2099, 1, 1)))
        assert keys == ["user", "team"]


def _spend_mix(store: Store) -> Filters:
    """Many cheap calls tagged ``team``, a few expensive ones tagged ``project``, some both,
    some untagged: the most used key is not the one covering the most spend."""
    lines = []
    for n in range(12):
        team = {"team": ("search", "ads")[n % 2]}
        lines.append(line(request_id=f"c{n}", model_id="amazon.nova-micro-v1:0",
                          input_tokens=100, output_tokens=10, request_metadata=team))  # fmt: skip
    for n, meta in enumerate(({"project": "apollo"}, {"project": "apollo", "team": "ads"},
                              {"project": "zeus"}, None)):  # fmt: skip
        extra = {} if meta is None else {"request_metadata": meta}
        lines.append(line(request_id=f"e{n}", model_id="anthropic.claude-3-7-sonnet-20250219-v1:0",
                          input_tokens=90_000, output_tokens=4_000, **extra))  # fmt: skip
    integ = store.add_integration("mix", "local")
    store.write_batch(integ.id, RawBatch("a", lines))
    return Filters(date(2000, 1, 1), date(2099, 1, 1))


def test_the_default_key_is_the_one_covering_the_most_spend(store: Store) -> None:
    f = _spend_mix(store)
    keys, _pairs = explorer.metadata_summary(store, f)
    assert keys == ["team", "project"]  # by invocations: 13 carry team, 3 project
    assert explorer.keys_by_spend(store, f, keys) == ["project", "team"]
    # a selection where team covers more: the cheap model alone
    cheap = replace(f, models=("amazon.nova-micro-v1:0",))
    assert explorer.keys_by_spend(store, cheap, ["team", "project"]) == ["team", "project"]


@pytest.mark.parametrize("key", ["team", "project", "nowhere"])
def test_cost_by_a_key_from_the_sets_equals_the_direct_query(store: Store, key: str) -> None:
    f = _spend_mix(store)
    direct = explorer.grouped(store, f, ["metadata"], meta_key=key)  # no memo: its own query
    memo: dict = {}
    explorer.keys_by_spend(store, f, ["team", "project"], memo)
    asked: list[object] = []
    query = explorer._grouped_raw
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(explorer, "_grouped_raw", lambda *a: asked.append(a) or query(*a))
        rolled = explorer.grouped(store, f, ["metadata"], meta_key=key, memo=memo)
    assert not asked, "answered from the cost per metadata set"
    assert list(rolled["metadata"]) == list(direct["metadata"])
    for column in ("invocations", "input_tokens", "unpriced_tokens", "price_status"):
        assert list(rolled[column]) == list(direct[column]), column
    assert list(rolled["cost"]) == pytest.approx(list(direct["cost"]))
    assert "(none)" in set(rolled["metadata"])
