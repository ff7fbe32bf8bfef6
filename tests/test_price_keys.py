"""The integer price key on each invocation (store/price_keys.py): every row gets the key of its
own (model id, source region, tier), by every way rows are written, and an older file gets keys
on opening. Grouped cost sums per key, so a wrong key would price a row at another's rates."""

from __future__ import annotations

from pathlib import Path

from bedrock_explorer import queries
from bedrock_explorer.ingest import import_paths
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store, price_keys, schema
from tests.conftest import line

_WRONG_KEYS = """
SELECT count(*) FROM invocations i LEFT JOIN price_keys k USING (price_key)
WHERE k.price_key IS NULL OR k.model_id <> i.model_id OR k.region <> coalesce(i.region, '')
   OR k.tier <> i.performance_tier
"""


def _keys(store: Store) -> list[tuple]:
    return store.con.execute(
        "SELECT model_id, region, tier FROM price_keys ORDER BY price_key"
    ).fetchall()


def _lines(prefix: str, specs: list[tuple[str, str, str | None]]) -> list[str]:
    out = []
    for n, (model, region, tier) in enumerate(specs):
        extra = {"service_tier": tier} if tier else {}
        out.append(line(request_id=f"{prefix}{n}", model_id=model, region=region, **extra))
    return out


def test_each_batch_gives_every_row_its_own_key_and_a_new_key_once(store: Store) -> None:
    integ = store.add_integration("x", "local")
    first = [
        ("amazon.nova-lite-v1:0", "us-east-1", None),
        ("amazon.nova-lite-v1:0", "eu-west-1", None),
        ("amazon.nova-lite-v1:0", "us-east-1", "flex"),
    ]
    store.write_batch(integ.id, RawBatch("a", _lines("a", first)))
    assert _keys(store) == [
        ("amazon.nova-lite-v1:0", "eu-west-1", "standard"),
        ("amazon.nova-lite-v1:0", "us-east-1", "flex"),
        ("amazon.nova-lite-v1:0", "us-east-1", "standard"),
    ]
    # A second batch: two known keys, one new one.
    second = [*first[:2], ("amazon.nova-pro-v1:0", "us-east-1", "priority")]
    store.write_batch(integ.id, RawBatch("b", _lines("b", second)))
    assert len(_keys(store)) == 4
    assert _keys(store)[3] == ("amazon.nova-pro-v1:0", "us-east-1", "priority")
    assert store.con.execute(_WRONG_KEYS).fetchall()[0][0] == 0
    assert store.con.execute("SELECT count(*) FROM invocations").fetchall()[0][0] == 6


def test_files_read_by_duckdb_itself_get_their_keys(store: Store, tmp_path: Path) -> None:
    specs = [
        ("amazon.nova-lite-v1:0", "us-west-2", None),
        ("us.amazon.nova-pro-v1:0", "us-east-1", "priority"),
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(_lines("f", specs)) + "\n")
    import_paths(store, [str(tmp_path)], "files")
    assert store.con.execute("SELECT count(*) FROM invocations").fetchall()[0][0] == 2
    assert store.con.execute(_WRONG_KEYS).fetchall()[0][0] == 0
    assert len(_keys(store)) == 2


def test_an_older_file_gets_keys_when_opened(db_path: Path) -> None:
    specs = [
        ("amazon.nova-lite-v1:0", "us-east-1", None),
        ("amazon.nova-lite-v1:0", "ap-northeast-1", "flex"),
        ("amazon.nova-micro-v1:0", "us-east-1", None),
    ]
    with Store(db_path) as store:
        integ = store.add_integration("old", "local")
        store.write_batch(integ.id, RawBatch("a", _lines("o", specs)))
        expected = queries.cost_totals(store)
        # What schema 9 stored: no price key column, no key table.
        store.con.execute("ALTER TABLE invocations DROP COLUMN price_key")
        store.con.execute("DROP TABLE price_keys")
        store.con.execute("DELETE FROM schema_version WHERE version >= 10")
    with Store(db_path) as store:
        assert schema.current_version(store.con) == schema.SCHEMA_VERSION
        assert store.con.execute(_WRONG_KEYS).fetchall()[0][0] == 0
        assert len(_keys(store)) == 3
        assert queries.cost_totals(store) == expected
        assert expected["cost"]


def test_rows_inserted_by_sql_get_keys_from_assign_missing(store: Store) -> None:
    integ = store.add_integration("x", "local")
    store.write_batch(
        integ.id, RawBatch("a", _lines("a", [("amazon.nova-lite-v1:0", "us-east-1", None)]))
    )
    store.con.execute("UPDATE invocations SET price_key = NULL, region = 'eu-west-1'")
    assert price_keys.assign_missing(store.con) == 1
    assert store.con.execute(_WRONG_KEYS).fetchall()[0][0] == 0
