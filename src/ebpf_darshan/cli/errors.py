"""The one exception the verbs raise for problems the user can fix, and
the reading of a user's log file, whose failures are such problems."""

from __future__ import annotations

from ..darshan import Log, LogFormatError, read_log


class CliError(Exception):
    """Shown as one line on stderr; the process exits with `status`."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def read_log_file(path: str) -> Log:
    """A .darshan log, or a CliError saying in one line why it cannot be read."""
    try:
        return read_log(path)
    except FileNotFoundError as e:
        raise CliError(f"{path}: no such file") from e
    except IsADirectoryError as e:
        raise CliError(f"{path}: is a directory") from e
    except PermissionError as e:
        raise CliError(f"{path}: permission denied") from e
    except LogFormatError as e:
        raise CliError(f"{path}: {e}") from e
