"""The project's own exception types.

Every error a user can fix is raised as a :class:`UserFacingError` whose message says what went
wrong *and* what to do about it. Pages show ``str(err)`` with ``st.error``; the CLI prints it on one
line and exits non-zero. Anything else that escapes is a bug.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error with a message a FinOps user understands, naming the fix."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if not fix else f"{message} — {fix}")


class DatabaseBusyError(UserFacingError):
    """Another process holds the DuckDB file (DuckDB allows one writing process per file)."""


class DatabaseVersionError(UserFacingError):
    """The database file was written by a newer Bedrock Explorer than this one."""


class IntegrationNotFoundError(UserFacingError):
    """A command named an integration that does not exist."""


class IntegrationExistsError(UserFacingError):
    """An integration with this name already exists (names are unique)."""


class SourceError(UserFacingError):
    """A log source could not be read (missing path, unreadable file, bad format)."""


#: Where DuckDB starts quoting its input in a message (a line of a log: possibly prompt text).
_QUOTE_MARKERS = ("Input:", '"', "'", "\n", "LINE ")
_MAX_REASON = 160


def safe_text(err: BaseException) -> str:
    """``str(err)``, or a placeholder when the engine's message cannot even be decoded."""
    try:
        return str(err)
    except UnicodeDecodeError:
        return type(err).__name__


def safe_reason(err: BaseException) -> str:
    """What went wrong, in words that hold no byte of the input, for storing or printing.

    Why: the database engine quotes the input it choked on (a log line, i.e. prompt text), and
    a message cut mid-character even fails to decode (``UnicodeDecodeError``). Every message that
    is stored (``last_sync_message``) or shown is reduced here first: our own
    :class:`UserFacingError` messages are kept; anything else keeps its kind and the text up to
    the first quote or input excerpt.
    """
    if isinstance(err, UserFacingError):
        return str(err)
    if isinstance(err, UnicodeDecodeError):
        return "the database engine reported an error about the input (details withheld)"
    text = str(err)
    cut = min((i for i in (text.find(m) for m in _QUOTE_MARKERS) if i >= 0), default=len(text))
    text = text[:cut].strip().rstrip(":.").strip()
    if len(text) > _MAX_REASON:
        text = text[:_MAX_REASON].rstrip() + "…"
    kind = type(err).__name__
    return f"{kind}: {text}" if text else kind


def _is_disk_full(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if getattr(seen, "errno", None) == 28 or "no space left on device" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


#: What to ask a user to free on a full disk: DuckDB checkpoints need room for about a row group
#: per column being written, and its write-ahead log up to 16 MB; 256 MB covers an import batch.
DISK_NEEDED_BYTES = 256 * 1024 * 1024


def explain_failure(err: BaseException, where: object) -> UserFacingError:
    """Any failure as one sentence with the fix (no traceback, no input bytes).

    ``where`` is the database file: a full disk names the disk that holds it, how much is free
    and how much to free.
    """
    import shutil
    from pathlib import Path

    if isinstance(err, UserFacingError):
        return err
    if _is_disk_full(err):
        folder = Path(str(where)).expanduser().parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            free = f"{shutil.disk_usage(folder).free / 2**20:,.0f} MB free"
        except OSError:
            free = "free space unknown"
        return UserFacingError(
            f"The disk that holds {folder} is full ({free}); nothing of the interrupted write "
            "was kept",
            f"free at least {DISK_NEEDED_BYTES // 2**20} MB there (or choose a database on "
            "another disk with --db) and run the command again — it resumes where it stopped",
        )
    return UserFacingError(
        f"Unexpected problem: {safe_reason(err)}",
        "run the command again; if it keeps failing, report it with this message",
    )
