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

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bedrock_explorer.raw import RawBatch
from bedrock_explorer.sources import byte_stream
from bedrock_explorer.sources.local.reader import PERMISSION_CHECK_MARKER, lines_array

LOG_FOLDER = "BedrockModelInvocationLogs"
OBJECT_PREFIX = "s3:object:"
KEY_SYNCED_TO = "s3:synced_to"
#: The day of a key's hour folder (``.../YYYY/MM/DD/HH/file``) as ``YYYY/MM/DD`` (group 1).
DAY_FOLDER_PATTERN = r"/(\d{4}/\d{2}/\d{2})/\d{2}/[^/]+$"
#: Parallel GETs. A log object is small and S3 answers each in tens of milliseconds, so the wait,
#: not the bandwidth, bounds a sync: with 20 ms added to every request (``bench/sync.py
#: --latency-ms 20``) a 50k-record sync took 1.38 s with 8, 1.22 s with 16, 1.14 s with 32; on
#: loopback (no wait) 8 and more are alike. 16 keeps the objects held at once (2 per worker) small.
WORKERS = 16


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


def day_folder(when: datetime) -> str:
    """The ``YYYY/MM/DD`` folder of a day, as keys spell it (so folders compare as text)."""
    return when.strftime("%Y/%m/%d")


def list_log_objects(
    s3: Any, bucket: str, prefix: str, since: datetime | None = None
) -> Iterator[LogObject]:
    """Log objects under ``prefix``, from the hour folders of ``since``'s day on when given."""
    for folder in region_folders(s3, bucket, prefix):
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": folder}
        if since is not None:
            # Keys sort by YYYY/MM/DD/HH, so listing may start just before since's day.
            params["StartAfter"] = folder + day_folder(since)
        for page in s3.get_paginator("list_objects_v2").paginate(**params):
            for obj in page.get("Contents", []):
                if is_log_key(obj["Key"]):
                    yield LogObject(obj["Key"], obj.get("ETag", "").strip('"'), obj.get("Size", 0))


@dataclass(frozen=True)
class FetchedObject:
    """A log object's bytes as stored (gzip or not); ``None`` if it was deleted meanwhile."""

    obj: LogObject
    body: bytes | None

    @property
    def compression(self) -> str:
        return "gzip" if (self.body or b"")[:2] == b"\x1f\x8b" else "none"


class BucketReader:
    """Fetches log objects in parallel and hands each on as a batch with its checkpoint."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str, *, workers: int = WORKERS) -> None:
        self.client = s3_client
        self.bucket = bucket
        self.prefix = prefix
        self.workers = workers
        self.objects_done = 0

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def fetched(self, objects: list[LogObject]) -> Iterator[FetchedObject]:
        """Each object's bytes, in the order fetches finish; at most ~2x workers held at once."""
        if not objects:
            return
        results: queue.Queue[FetchedObject | BaseException] = queue.Queue()
        slots = threading.Semaphore(2 * self.workers)
        stop = threading.Event()

        def work(obj: LogObject) -> None:
            try:
                if not stop.is_set():
                    results.put(FetchedObject(obj, self._fetch(obj)))
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
                yield item
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def batches(self, objects: list[LogObject]) -> Iterator[RawBatch]:
        """One batch of lines per object, with its checkpoint."""
        for fetched in self.fetched(objects):
            yield self.to_batch(fetched)

    def _fetch(self, obj: LogObject) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=obj.key)["Body"].read()
        except botocore.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None  # deleted between listing and fetching (a lifecycle rule)
            raise

    def to_batch(self, fetched: FetchedObject) -> RawBatch:
        """An object's lines, each with its locator (key + line number); a damaged gzip object
        keeps its whole lines and is quarantined as a problem."""
        obj, body = fetched.obj, fetched.body
        checkpoints = {obj.checkpoint_key: obj.etag}
        if body is None:
            return RawBatch(self.source, [], refs=[], checkpoints=checkpoints)
        problems: list[tuple[str, str]] = []
        data, damage = inflate_bounded(body)
        if damage is not None:
            problems.append((obj.key, f"{damage}: the lines before were read, the rest is missing"))
        if data and not data.endswith(b"\n"):
            data += b"\n"
        lines = lines_array(data)
        return RawBatch(
            self.source,
            lines,
            refs=line_locators(obj.key, len(lines)),
            checkpoints=checkpoints,
            nbytes=len(body),
            problems=problems,
        )


def line_locators(key: str, count: int) -> pa.Array:
    """``"<key> line <n>"`` for n = 1..count, built by Arrow: a Python string per line cost more
    than parsing the lines."""
    numbers = pc.cast(pa.array(np.arange(1, count + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(pa.scalar(f"{key} line "), numbers, "")


#: The most one object may inflate to: Bedrock delivers objects of a few MB, so more is a gzip
#: bomb, and the whole object is held in memory while its lines are handed on.
MAX_OBJECT_BYTES = 1024 * 1024 * 1024


def inflate_bounded(body: bytes) -> tuple[bytes, str | None]:
    """An object's content, gunzipped when it is gzip, and what was wrong with it (or None).

    Streamed (``byte_stream.inflate``): damage keeps what was decoded before it (the whole lines
    of it), and inflating stops at :data:`MAX_OBJECT_BYTES`.
    """
    if body[:2] != byte_stream.GZIP_MAGIC:
        return body, None
    out = bytearray()
    damage = None
    try:
        for chunk in byte_stream.inflate([body]):
            out += chunk
            if len(out) > MAX_OBJECT_BYTES:
                damage = f"object inflates to more than {MAX_OBJECT_BYTES // 2**30} GB"
                break
    except byte_stream.DamagedInput as err:
        damage = err.reason
    if damage is None:
        return bytes(out), None
    cut = out.rfind(b"\n")
    return (bytes(out[: cut + 1]) if cut >= 0 else b""), damage
