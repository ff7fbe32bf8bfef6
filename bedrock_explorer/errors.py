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
