"""S3 source: the objects Bedrock delivers, fetched in parallel, each read once (key + ETag).

Layout written by Bedrock::

    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<file>.json.gz
    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/.../data/...   (large bodies)
    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check

Why list per region folder with ``StartAfter``: keys sort by date inside a region folder, so an
incremental sync lists only the last days instead of the bucket's whole history. Why key + ETag:
an object is processed when its rows commit together with its ``(key, ETag)`` checkpoint, so a
rewritten object is read again and an unchanged one never is.
"""

from __future__ import annotations

import gzip
import queue
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions
from isal import igzip

from bedrock_explorer.raw import RawBatch
from bedrock_explorer.sources.local_files import PERMISSION_CHECK_MARKER, lines_array

LOG_FOLDER = "BedrockModelInvocationLogs"
OBJECT_PREFIX = "s3:object:"
KEY_SYNCED_TO = "s3:synced_to"
WORKERS = 8


@dataclass(frozen=True)
class LogObject:
    key: str
    etag: str
    size: int

    @property
    def checkpoint_key(self) -> str:
        return OBJECT_PREFIX + self.key


def is_log_key(key: str) -> bool:
    """A delivered log object (not a large body under ``data/``, not the permission marker)."""
    parts = key.split("/")
    return (
        LOG_FOLDER in parts
        and "data" not in parts[parts.index(LOG_FOLDER) + 1 :]
        and not parts[-1].startswith(PERMISSION_CHECK_MARKER)
        and (key.endswith(".json.gz") or key.endswith(".json") or key.endswith(".gz"))
    )


def _common_prefixes(s3: Any, bucket: str, prefix: str) -> list[str]:
    found: list[str] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    for page in pages:
        found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return found


def region_folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    """``<prefix>AWSLogs/<account>/BedrockModelInvocationLogs/<region>/`` for every account and
    region that delivered logs under ``prefix``."""
    folders: list[str] = []
    for account in _common_prefixes(s3, bucket, f"{prefix}AWSLogs/"):
        folders.extend(_common_prefixes(s3, bucket, f"{account}{LOG_FOLDER}/"))
    return folders


def list_log_objects(
    s3: Any, bucket: str, prefix: str, since: datetime | None = None
) -> Iterator[LogObject]:
    """Log objects under ``prefix``, from the hour folders of ``since``'s day on when given."""
    for folder in region_folders(s3, bucket, prefix):
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": folder}
        if since is not None:
            # Keys sort by YYYY/MM/DD/HH, so listing may start just before since's day.
            params["StartAfter"] = folder + since.strftime("%Y/%m/%d/")[:-1]
        for page in s3.get_paginator("list_objects_v2").paginate(**params):
            for obj in page.get("Contents", []):
                if is_log_key(obj["Key"]):
                    yield LogObject(obj["Key"], obj.get("ETag", "").strip('"'), obj.get("Size", 0))


class BucketReader:
    """Fetches log objects in parallel and hands each on as a batch with its checkpoint."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str, *, workers: int = WORKERS) -> None:
        self.client = s3_client
        self.bucket = bucket
        self.prefix = prefix
        self.workers = workers
        self.objects_done = 0
        self.objects_total = 0
        self.bytes_done = 0

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def batches(self, objects: list[LogObject]) -> Iterator[RawBatch]:
        """One batch per object, in the order fetches finish; at most ~2x workers held at once."""
        self.objects_total = len(objects)
        if not objects:
            return
        results: queue.Queue[RawBatch | BaseException] = queue.Queue()
        slots = threading.Semaphore(2 * self.workers)
        stop = threading.Event()

        def work(obj: LogObject) -> None:
            try:
                if not stop.is_set():
                    results.put(self._read(obj))
                    return
            except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
                results.put(err)
                return
            slots.release()

        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            submitted = 0
            for received in range(len(objects)):
                while submitted < len(objects) and slots.acquire(blocking=False):
                    pool.submit(work, objects[submitted])
                    submitted += 1
                item = results.get()
                slots.release()
                if isinstance(item, BaseException):
                    raise item
                self.objects_done = received + 1
                self.bytes_done += item.nbytes
                yield item
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _read(self, obj: LogObject) -> RawBatch:
        checkpoints = {obj.checkpoint_key: obj.etag}
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=obj.key)["Body"].read()
        except botocore.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                # Deleted between listing and fetching (a lifecycle rule): nothing to read.
                return RawBatch(self.source, [], refs=[], checkpoints=checkpoints)
            raise
        problems: list[tuple[str, str]] = []
        try:
            data = inflate(body)
        except ValueError:
            data = _salvage(body)
            problems.append(
                (
                    obj.key,
                    "object ends early (truncated or damaged gzip): the lines before were "
                    "imported, the rest is missing",
                )
            )
        if data and not data.endswith(b"\n"):
            data += b"\n"
        lines = lines_array(data)
        return RawBatch(
            self.source,
            lines,
            refs=[f"{obj.key} line {n}" for n in range(1, len(lines) + 1)],
            checkpoints=checkpoints,
            nbytes=len(body),
            problems=problems,
        )


def inflate(body: bytes) -> bytes:
    """The content of an object, gunzipped when it is gzip (ISA-L: ~3x zlib's speed).

    Raises ``ValueError`` for a damaged gzip object.
    """
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        return igzip.decompress(body)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        raise ValueError(f"damaged gzip: {err}") from err


def _salvage(body: bytes) -> bytes:
    """The whole lines a damaged gzip object still holds."""
    try:
        data = zlib.decompressobj(wbits=31).decompress(body)
    except zlib.error:
        return b""
    cut = data.rfind(b"\n")
    return data[: cut + 1] if cut >= 0 else b""
