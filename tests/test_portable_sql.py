"""The shared analytical SQL is portable: every query behind the Explorer's charts, tables and
exports transpiles from DuckDB to Trino (Athena's engine) with sqlglot, refusing anything it
cannot translate, and the result parses as Trino. So a second engine is an adapter.

Left to the adapter, and said here: the requestMetadata key of a metadata grouping travels as a
DuckDB session variable (``getvariable``), and the detail rows format times with ``strftime``.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from bedrock_explorer import explorer
from bedrock_explorer.dimensions import DIMENSIONS, FILTERABLE
from bedrock_explorer.explorer import Filters

#: every filter set at once, so every clause is in the SQL
ALL_FILTERS = Filters(
    date(2026, 3, 1),
    date(2026, 3, 31),
    metadata=(("team", "search"),),
    **{d.field: ("x",) for d in FILTERABLE if d.field},  # type: ignore[arg-type]
)
#: DuckDB syntax that sqlglot passes through to Trino untranslated (it is lenient there), so it
#: is refused by name
DUCKDB_ONLY = ("GROUP BY ALL", "QUALIFY", "GETVARIABLE", "::", " EXCLUDE", "REPLACE (", "ASOF")


def _duckdb_only(sql: str) -> list[str]:
    return [c for c in DUCKDB_ONLY if c in sql.upper()]


def _to_trino(sql: str) -> str:
    (out,) = sqlglot.transpile(
        sql, read="duckdb", write="trino", unsupported_level=ErrorLevel.RAISE
    )
    sqlglot.parse_one(out, read="trino")  # and it is Trino that reads it back
    return out


@pytest.mark.parametrize("by", [[], *([d.name] for d in DIMENSIONS), ["model", "region"]],
                         ids=lambda b: "+".join(b) or "totals")  # fmt: skip
@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_every_grouping_transpiles_to_trino(by: list[str], zone: str) -> None:
    f = Filters(ALL_FILTERS.start, ALL_FILTERS.end, tz=zone, **{
        k: getattr(ALL_FILTERS, k) for k in (*explorer.LIST_FILTERS, "metadata")})  # fmt: skip
    sql = explorer.grouped_sql(f, by, time_bucket=True)
    assert not _duckdb_only(sql), "DuckDB-only syntax in a shared query"
    assert "CONTAINS(" in _to_trino(sql).upper()  # the filters' list_contains, translated


def test_the_check_catches_duckdb_only_syntax() -> None:
    with pytest.raises(sqlglot.errors.UnsupportedError):
        _to_trino("PIVOT t ON a USING sum(b)")
    assert _duckdb_only("SELECT a, count(*) FROM t GROUP BY ALL") == ["GROUP BY ALL"]
    assert _duckdb_only("SELECT * EXCLUDE (y) FROM t QUALIFY n = 1") == ["QUALIFY", " EXCLUDE"]
