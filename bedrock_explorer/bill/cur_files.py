"""Import CUR 2.0 / Data Exports files (Parquet, CSV, CSV.gz) — a local folder or an S3 prefix.

Why DuckDB reads them: a month of CUR for a large payer is gigabytes; DuckDB scans Parquet and CSV
itself and hands back the Bedrock lines summed per UTC day, account, product, usage type and
line-item type — a few thousand rows. Each file is a source of its own (``lines.py``): a rewritten
file replaces its lines, an unchanged one is skipped.

Why files are checked first: a file is user input. Only regular files are read (a FIFO would
block DuckDB forever, a symlink loop is an error of its own); compressed CSV is inflated by the
bounded stream reader of ``sources/byte_stream.py`` into a private staging file that keeps only
the header and the lines naming Bedrock, and a ratio no CSV reaches stops it as a gzip bomb.
A file that cannot be read is reported with the reason and the rest are imported.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bedrock_explorer import audit
from bedrock_explorer.bill import lines
from bedrock_explorer.errors import UserFacingError, safe_reason
from bedrock_explorer.sources import byte_stream
from bedrock_explorer.store import Store

DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".gz")
#: Inflated bytes per compressed byte above which a file is taken for a gzip bomb (CUR CSV
#: compresses ~10-20x; a bomb 1000x), checked once this much has been inflated.
BOMB_RATIO = 200
BOMB_CHECK_AFTER = 64 * 1024 * 1024
PARQUET_MAGIC = b"PAR1"

REQUIRED = ("line_item_usage_start_date", "line_item_usage_type", "line_item_unblended_cost")
#: Lines whose product is Bedrock: by product code, service code, or the Marketplace product name
#: ("Claude Sonnet 4.5 (Amazon Bedrock Edition)") — third-party models bill under Marketplace.
_BEDROCK = (
    "(coalesce(product_code, '') ILIKE 'AmazonBedrock%' OR coalesce(servicecode, '') ILIKE "
    "'AmazonBedrock%' OR coalesce(service, '') ILIKE '%Amazon Bedrock%')"
)


@dataclass
class ImportResult:
    files: int = 0
    imported: int = 0
    unchanged: int = 0
    lines: int = 0
    unblended_cost: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BillFile:
    """A file to read: where it is for DuckDB, its reference (path or s3:// URI) and its
    fingerprint (unchanged → skipped)."""

    path: Path
    ref: str
    fingerprint: str


def local_files(paths: Iterable[str], errors: list[str]) -> Iterator[BillFile]:
    """The data files under ``paths`` (files or folders; symlinks inside folders not followed)."""
    for given in paths:
        path = Path(given).expanduser()
        try:
            info = os.stat(path)
        except OSError as err:
            errors.append(f"{given}: cannot be read ({safe_reason(err)})")
            continue
        if stat.S_ISDIR(info.st_mode):
            for root, dirs, names in os.walk(path, followlinks=False):
                dirs.sort()
                for name in sorted(names):
                    if name.lower().endswith(DATA_SUFFIXES):
                        found = _regular(Path(root) / name, errors)
                        if found is not None:
                            yield found
        elif not stat.S_ISREG(info.st_mode):
            errors.append(f"{given}: not a regular file (a FIFO, socket or device is not read)")
        else:
            found = _regular(path, errors)
            if found is not None:
                yield found


def _regular(path: Path, errors: list[str]) -> BillFile | None:
    try:
        info = os.stat(path)
    except OSError as err:
        errors.append(f"{path}: cannot be read ({safe_reason(err)})")
        return None
    if not stat.S_ISREG(info.st_mode):
        errors.append(f"{path}: not a regular file (a FIFO, socket or device is not read)")
        return None
    return BillFile(path, str(path.resolve()), f"{info.st_size}:{info.st_mtime_ns}")


def import_files(
    store: Store,
    integration: str,
    files: Iterable[BillFile],
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    errors: list[str] | None = None,
) -> ImportResult:
    """Read each file into the store as its own source (see the module docstring)."""
    store.authorize(audit.BILL_IMPORTED)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    integ = store.get_integration(integration)
    result = ImportResult(errors=errors if errors is not None else [])
    for bill_file in files:
        result.files += 1
        if progress:
            progress(f"reading {bill_file.ref}")
        other = lines.owner_of(store, lines.KIND_CUR, bill_file.ref, integ.id)
        if other is not None:
            result.errors.append(
                f"{bill_file.ref}: already imported for integration {other!r} "
                "(importing it again would count its dollars twice)"
            )
            continue
        if lines.fingerprint_of(store, integ.id, lines.KIND_CUR, bill_file.ref) == (
            bill_file.fingerprint
        ):
            result.unchanged += 1
            continue
        try:
            frame = read_bill_file(bill_file.path)
        except UserFacingError as err:
            result.errors.append(f"{bill_file.ref}: {err.message}")
            continue
        if frame.attrs.get("unreadable"):
            result.errors.append(
                f"{bill_file.ref}: {frame.attrs['unreadable']:,} Bedrock lines without a "
                "readable usage date or cost were left out (the rest was imported)"
            )
        first = frame["day"].min() if not frame.empty else None
        last = frame["day"].max() if not frame.empty else None
        lines.replace_source(
            store,
            integ.id,
            lines.KIND_CUR,
            bill_file.ref,
            frame,
            fingerprint=bill_file.fingerprint,
            first_day=first,
            last_day=last,
            now=now,
        )
        result.imported += 1
        result.lines += len(frame)
        result.unblended_cost += float(frame["unblended_cost"].sum()) if len(frame) else 0.0
    if result.imported:
        store.audit(
            audit.BILL_IMPORTED,
            integration,
            f"{result.imported} files, {result.lines:,} lines, ${result.unblended_cost:,.2f}",
        )
    return result


def read_bill_file(path: Path) -> pd.DataFrame:
    """The Bedrock lines of one CUR 2.0 file, summed per day and line (``lines.LINE_COLUMNS``)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as err:
        raise UserFacingError(f"cannot be read ({safe_reason(err)})", "check the file") from None
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        if head == PARQUET_MAGIC:
            return _summed(con, f"read_parquet('{_quoted(path)}', union_by_name = true)")
        with tempfile.TemporaryDirectory(prefix="be-bill-") as folder:
            staged = Path(folder) / "bill.csv"
            _stage_csv(path, staged, gzipped=head[:2] == byte_stream.GZIP_MAGIC)
            source = (
                f"read_csv('{_quoted(staged)}', header = true, all_varchar = true, "
                "max_line_size = 8388608)"
            )
            return _summed(con, source)
    except duckdb.Error as err:
        raise UserFacingError(
            f"is not a readable CUR 2.0 file ({safe_reason(err)})",
            "export CUR 2.0 as Parquet or CSV (gzip) from AWS Data Exports",
        ) from None
    finally:
        con.close()


def _quoted(path: Path) -> str:
    """A path inside a SQL string literal (DuckDB's table functions take no bound parameter
    for the file name); the path is ours — a checked file or a private staging file."""
    return str(path).replace("'", "''")


def _stage_csv(path: Path, staged: Path, *, gzipped: bool) -> None:
    """The header and the lines naming Bedrock, inflated if need be, into ``staged``."""
    read = 0

    def counted(handle: Any) -> Iterator[bytes]:
        nonlocal read
        for block in byte_stream.file_blocks(handle):
            read += len(block)
            yield block

    header = True
    with open(path, "rb") as handle, open(staged, "wb") as out:
        chunks: Iterator[bytes] = counted(handle)
        if gzipped:
            chunks = byte_stream.inflate(chunks)
        inflated = 0

        def watched(source: Iterator[bytes]) -> Iterator[bytes]:
            nonlocal inflated
            for chunk in source:
                inflated += len(chunk)
                if inflated > BOMB_CHECK_AFTER and inflated > BOMB_RATIO * max(read, 1):
                    raise UserFacingError(
                        f"inflates more than {BOMB_RATIO}x (a gzip bomb, not a CUR file); "
                        "nothing of it was imported",
                        "check where the file came from",
                    )
                yield chunk

        try:
            for block in byte_stream.line_blocks(byte_stream.to_utf8(watched(chunks))):
                if not block.lines:
                    continue
                data = bytes(block.lines)
                if header:
                    first, _, data = data.partition(b"\n")
                    out.write(first + b"\n")
                    header = False
                kept = [line for line in data.split(b"\n") if line and b"edrock" in line.lower()]
                if kept:
                    out.write(b"\n".join(kept) + b"\n")
        except byte_stream.DamagedInput as err:
            raise UserFacingError(
                f"is damaged ({err.reason}); nothing of it was imported",
                "download the file again from the export",
            ) from None


def _summed(con: duckdb.DuckDBPyConnection, source: str) -> pd.DataFrame:
    columns = {
        row[0].lower(): row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    }
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise UserFacingError(
            f"is not a CUR 2.0 file: it has no {', '.join(missing)} column",
            "export the CUR 2.0 table (COST_AND_USAGE_REPORT) from AWS Data Exports",
        )

    def col(name: str, fallback: str = "NULL") -> str:
        return f'"{name}"' if name in columns else fallback

    product_name = "NULL"
    if "product_product_name" in columns:
        product_name = col("product_product_name")
    elif "product" in columns:
        product_name = (
            "product['product_name']"
            if columns["product"].upper().startswith("MAP")
            else "json_extract_string(product, '$.product_name')"
        )
    servicecode = col("product_servicecode")
    if (
        servicecode == "NULL"
        and "product" in columns
        and columns["product"].upper().startswith("MAP")
    ):
        servicecode = "product['servicecode']"
    net = col("line_item_net_unblended_cost")
    sql = f"""
        WITH raw AS (
            SELECT
                CAST(TRY_CAST({col("line_item_usage_start_date")} AS TIMESTAMPTZ) AS DATE) AS day,
                CAST(coalesce({col("line_item_usage_account_id")},
                              {col("bill_payer_account_id")}) AS VARCHAR) AS account_id,
                CAST({product_name} AS VARCHAR) AS service,
                CAST({col("line_item_product_code")} AS VARCHAR) AS product_code,
                CAST({servicecode} AS VARCHAR) AS servicecode,
                CAST({col("line_item_usage_type")} AS VARCHAR) AS usage_type,
                CAST(coalesce({col("line_item_line_item_type")}, 'Usage') AS VARCHAR)
                    AS line_item_type,
                CAST({col("product_region_code")} AS VARCHAR) AS region_code,
                CAST({col("pricing_unit")} AS VARCHAR) AS unit,
                coalesce(TRY_CAST({col("line_item_usage_amount")} AS DOUBLE), 0) AS usage_amount,
                TRY_CAST({col("line_item_unblended_cost")} AS DOUBLE) AS unblended_cost,
                TRY_CAST({net} AS DOUBLE) AS net_unblended_cost
            FROM {source}
        )
        SELECT day, account_id, service, product_code, coalesce(usage_type, '') AS usage_type,
               line_item_type, region_code, unit,
               sum(usage_amount) AS usage_amount,
               sum(unblended_cost) AS unblended_cost,
               sum(net_unblended_cost) AS net_unblended_cost
        FROM raw
        WHERE {_BEDROCK} AND day IS NOT NULL AND unblended_cost IS NOT NULL
        GROUP BY ALL
        ORDER BY day, usage_type
    """
    frame = con.execute(sql).df()
    unreadable = con.execute(
        sql[: sql.index("SELECT day, account_id")]
        + f"SELECT count(*) FROM raw WHERE {_BEDROCK} AND (day IS NULL OR unblended_cost IS NULL)"
    ).fetchall()[0][0]
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame.attrs["unreadable"] = int(unreadable)
    return frame


def import_s3(
    store: Store,
    integration: str,
    uri: str,
    session: Any,
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import the data files under ``s3://bucket/prefix`` with the integration's credentials:
    listed, compared by ETag with what was imported, and only changed ones downloaded (one at a
    time, into a private temporary folder removed afterwards)."""
    from bedrock_explorer import aws

    store.authorize(audit.BILL_IMPORTED)
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise UserFacingError(f"Not an S3 location: {uri!r}", "give s3://bucket/prefix")
    integ = store.get_integration(integration)
    s3 = aws.client(session, "s3")
    total = ImportResult()
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        objects = [obj for page in pages for obj in page.get("Contents", [])]
    except Exception as err:  # noqa: BLE001 - every AWS failure becomes a sentence with the fix
        raise aws.explain(
            err, f"listing s3://{bucket}/{prefix}", f"s3:ListBucket on {bucket}"
        ) from None
    with tempfile.TemporaryDirectory(prefix="be-bill-s3-") as folder:
        for obj in objects:
            key = obj["Key"]
            if not key.lower().endswith(DATA_SUFFIXES):
                continue
            ref = f"s3://{bucket}/{key}"
            print_ref = f"{obj.get('ETag', '')}:{obj.get('Size', 0)}"
            if lines.fingerprint_of(store, integ.id, lines.KIND_CUR, ref) == print_ref:
                total.files += 1
                total.unchanged += 1
                continue
            local = Path(folder) / "object"
            try:
                s3.download_file(bucket, key, str(local))
            except Exception as err:  # noqa: BLE001 - one object failing leaves the others
                total.files += 1
                total.errors.append(
                    f"{ref}: {aws.explain(err, 'downloading it', f's3:GetObject on {bucket}')}"
                )
                continue
            got = import_files(
                store, integration, [BillFile(local, ref, print_ref)], now=now, progress=progress
            )
            local.unlink(missing_ok=True)
            total.files += got.files
            total.imported += got.imported
            total.unchanged += got.unchanged
            total.lines += got.lines
            total.unblended_cost += got.unblended_cost
            total.errors.extend(got.errors)
    return total
