"""A file's bytes as bounded blocks of UTF-8 lines, whatever its compression, encoding or damage.

Why streaming everywhere: a hostile file must cost only itself. Inflating a whole gzip member at
once let a 522 KB file take 14 GB; a line without a newline grew without end; a damaged member
lost everything decoded before the damage. Here every stage holds at most one block
(:data:`READ_BLOCK`) plus one line of at most :data:`MAX_RECORD_BYTES`, so the resident memory of
a read is bounded by a constant plus the largest record, not by the file's size or its
compression ratio.

The stages, each a generator of ``bytes``: :func:`inflate` (gzip members, checksum checked,
what was decoded before damage kept), :func:`to_utf8` (a UTF-8 byte-order mark dropped, UTF-16
transcoded, lone-CR line ends made LF) and :func:`line_blocks` (whole lines, an over-long line
cut out and reported).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from isal import igzip, isal_zlib

#: Bytes read (and inflated) per step.
READ_BLOCK = 4 * 1024 * 1024
#: The largest record (one line, or one document item) read; a larger one is quarantined as too
#: large. Bedrock's own limit for a logged body is far lower (larger bodies go to S3).
MAX_RECORD_BYTES = 64 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
#: Inflate output per call: the call that meets damage loses what it decoded, so it is small.
_INFLATE_STEP = 256 * 1024
#: Compressed input per call (see :func:`inflate`).
_INPUT_PIECE = 64 * 1024
_UTF8_BOM = codecs.BOM_UTF8
#: ISA-L's inflate error. Its stub declares ``error: Exception`` (an instance), so the class is
#: named here once, cast to what it is.
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.error)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class DamagedInput(Exception):
    """The stream ends in damage; what came before was handed on. ``reason`` holds no content."""

    def __init__(self, reason: str, *, rest_missing: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        #: False when nothing of the data is lost (only bytes after its end were ignored).
        self.rest_missing = rest_missing


def file_blocks(fileobj: object, block: int | None = None) -> Iterator[bytes]:
    """The raw bytes of an open binary file, :data:`READ_BLOCK` bytes at a time."""
    read = fileobj.read  # type: ignore[attr-defined]
    block = block or READ_BLOCK
    while True:
        data = read(block)
        if not data:
            return
        yield data


def inflate(
    chunks: Iterable[bytes], block: int | None = None, step: int | None = None
) -> Iterator[bytes]:
    """Gunzip a stream of one or more gzip members, never more than ``block`` bytes at a time.

    ISA-L (``isal``) inflates ~3x faster than zlib. The checksum and length of every member are
    checked; on damage, everything decoded before it has already been yielded and
    :class:`DamagedInput` says what happened. Bytes after the last member that are not another
    member are reported as trailing garbage, not as missing data.
    """
    block = block or READ_BLOCK
    step = min(block, step or _INFLATE_STEP)
    inflater = isal_zlib.decompressobj(wbits=31)
    started = False  # the current member has taken input
    members = 0
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            whole = memoryview(chunk)
            # Small input pieces: each call copies the input it did not consume (its
            # ``unconsumed_tail``), which for a 4 MB block made inflating 4x slower.
            for at in range(0, len(whole), _INPUT_PIECE):
                data: bytes | memoryview = whole[at : at + _INPUT_PIECE]
                while data:
                    if (
                        not started
                        and members
                        and not bytes(data[:2]).startswith(GZIP_MAGIC[: len(data)])
                    ):
                        raise DamagedInput(
                            "bytes after the end of the gzip data were ignored", rest_missing=False
                        )
                    try:
                        out = inflater.decompress(data, step)
                    except _INFLATE_ERROR as err:
                        raise DamagedInput(_damage_reason(err)) from None
                    started = True
                    if out:
                        parts.append(out)
                        size += len(out)
                        if size >= block:
                            yield b"".join(parts)
                            parts, size = [], 0
                    if inflater.eof:
                        members += 1
                        data = inflater.unused_data
                        inflater = isal_zlib.decompressobj(wbits=31)
                        started = False
                    else:
                        data = inflater.unconsumed_tail
        if started:
            try:
                out = inflater.flush()
            except _INFLATE_ERROR as err:
                raise DamagedInput(_damage_reason(err)) from None
            if out:
                parts.append(out)
            if not inflater.eof:
                raise DamagedInput("the gzip data ends early (truncated file)")
    except DamagedInput:
        # What was inflated before the damage goes on first (a member's checksum is only
        # checked at its end, so the call that finds the damage loses at most one step).
        if parts:
            yield b"".join(parts)
        raise
    if parts:
        yield b"".join(parts)


def gzip_damage(fileobj: object) -> DamagedInput | None:
    """Inflate a whole gzip stream only to check it (checksums included); what is wrong, or None.

    For files DuckDB will read itself: its reader accepts a damaged checksum silently. Nothing
    is kept, so ISA-L's own file reader fills one reused buffer (~1 s for 1M records, 1.4 GB).
    """
    buffer = memoryview(bytearray(READ_BLOCK))
    try:
        with igzip.IGzipFile(fileobj=fileobj, mode="rb") as reader:
            while reader.readinto(buffer):
                pass
    except (OSError, EOFError, _INFLATE_ERROR) as err:
        reason = (
            "the gzip data ends early (truncated file)"
            if isinstance(err, EOFError)
            else (
                _damage_reason(err)
                if "checksum" in str(err).lower() or "crc" in str(err).lower()
                else "the gzip data is damaged"
            )
        )
        return DamagedInput(reason)
    return None


def _damage_reason(err: Exception) -> str:
    text = str(err).lower()
    if "checksum" in text or "data check" in text or "length" in text or "crc" in text:
        return "the gzip checksum does not match (damaged file)"
    return "the gzip data is damaged"


def to_utf8(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """UTF-8 bytes with ``\\n`` line ends, from UTF-8 (with or without a BOM) or UTF-16.

    Why: a byte-order mark made the first record unreadable, a UTF-16 file (Windows tools) or one
    with old-Mac CR-only line ends lost every record. Which applies is decided from the first
    block; CR-only means a CR but no LF in it.
    """
    it = iter(chunks)
    first = b""
    for chunk in it:
        first += chunk
        if len(first) >= 4:
            break
    if not first:
        return
    if first.startswith(_UTF16_BOMS) or _looks_like_bomless_utf16(first):
        yield from _utf16_to_utf8(first, it)
        return
    if first.startswith(_UTF8_BOM):
        first = first[len(_UTF8_BOM) :]
    cr_only = b"\r" in first and b"\n" not in first
    if not cr_only:
        yield first
        yield from it
        return
    yield first.replace(b"\r", b"\n")
    for chunk in it:
        yield chunk.replace(b"\r", b"\n")


def _looks_like_bomless_utf16(head: bytes) -> bool:
    """``{\\0"\\0`` or ``\\0{\\0"``: JSON text in UTF-16 without a byte-order mark."""
    sample = head[:64]
    return len(sample) >= 4 and (
        (sample[1] == 0 and sample[3] == 0 and sample[0] != 0)
        or (sample[0] == 0 and sample[2] == 0 and sample[1] != 0)
    )


def _utf16_to_utf8(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first.startswith(_UTF16_BOMS):
        decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
    else:
        big = first[0] == 0
        decoder = codecs.getincrementaldecoder("utf-16-be" if big else "utf-16-le")(
            errors="replace"
        )
    text = decoder.decode(first)
    cr_only = "\r" in text and "\n" not in text
    for chunk in rest:
        text += decoder.decode(chunk)
        yield (text.replace("\r", "\n") if cr_only else text).encode("utf-8")
        text = ""
    text += decoder.decode(b"", final=True)
    if text:
        yield (text.replace("\r", "\n") if cr_only else text).encode("utf-8")


@dataclass(frozen=True)
class LineBlock:
    """Whole lines (each ending in ``\\n``), or a line too long to keep (``lines`` empty)."""

    lines: bytes | memoryview
    #: How many lines were cut out for being longer than the limit, just before ``lines``.
    too_long: int = 0


def line_blocks(chunks: Iterable[bytes], max_line: int = MAX_RECORD_BYTES) -> Iterator[LineBlock]:
    """Blocks of whole lines; a final line without a newline gets one.

    A line longer than ``max_line`` is never held whole: its bytes are dropped as they come and
    a :class:`LineBlock` with ``too_long=1`` stands in its place (so line numbers stay right).
    At most one block plus ``max_line`` bytes are held. ``max_line`` is meant to be at least the
    size of a chunk: a longer line inside a single chunk is left to the parser.
    """
    carry = bytearray()
    skipping = False  # inside a line already reported as too long
    for chunk in chunks:
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            skipping = False
            yield LineBlock(b"", too_long=1)
            chunk = chunk[cut + 1 :]
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry += chunk
            if len(carry) > max_line:
                carry = bytearray()
                skipping = True
            continue
        head = chunk.find(b"\n")
        if carry and len(carry) + head > max_line:
            # The carried line ends in this chunk but is too long: report it, keep the rest.
            carry = bytearray()
            yield LineBlock(b"", too_long=1)
            chunk = chunk[head + 1 :]
            cut = chunk.rfind(b"\n")
            if cut < 0:
                carry += chunk
                continue
        if carry:
            block = bytes(carry) + chunk[: cut + 1]
            carry = bytearray()
        else:
            block = chunk[: cut + 1]
        carry += chunk[cut + 1 :]
        yield LineBlock(block)
    if skipping:
        yield LineBlock(b"", too_long=1)
    elif carry:
        carry += b"\n"
        yield LineBlock(bytes(carry))
