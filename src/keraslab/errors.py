"""Expected failures. Each carries a one-line message and the exit code the CLI uses; the one line any failure
stops a command with (`one_line`); and SIGTERM turned into one (`terminated_as_interrupt`)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading


class KeraslabError(Exception):
    """An expected failure: bad input, missing data, a bad argument. The CLI prints it as one line."""

    exit_code = 1


class UsageError(KeraslabError, ValueError):
    """A bad command-line or function argument."""

    exit_code = 2


class BackendError(KeraslabError):
    """The requested Keras backend cannot be used."""


class DataError(KeraslabError):
    """A data file is missing, corrupt or not in the expected format."""


class DataMissingError(DataError):
    """A data file is absent and cannot be downloaded (offline, or the download failed)."""


class ChecksumError(DataError):
    """A data file's sha256 differs from the registry's."""


class DataFormatError(DataError, ValueError):
    """A data file does not parse as the expected format."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM: the command stops, in one line that says how to resume where it can. A
    KeyboardInterrupt, so that everything that cleans up after Ctrl-C cleans up after it too."""

    def __init__(self, message: str = "interrupted", exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def disk_error(exc: OSError, path: str | os.PathLike | None = None) -> str | None:
    """'PATH: no space left on the device' (or read-only, permission denied...) for an OSError of the disk; None for
    any other error."""
    reason = DISK_ERRORS.get(exc.errno)
    if reason is None:
        return None
    where = exc.filename or path
    return f"{where}: {reason}" if where else reason


def one_line(exc: BaseException, unexpected: str = "") -> tuple[str, int]:
    """(the one line, the exit status) a command stops with for `exc`; `unexpected` follows the line of an error
    that is none of keraslab's, Ctrl-C's or a disk's (its type and message)."""
    if isinstance(exc, KeraslabError):
        return str(exc), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (Interrupted: its message and status)
        return str(exc) or "interrupted", getattr(exc, "exit_code", 130)
    if isinstance(exc, OSError) and disk_error(exc):  # a full, read-only or forbidden disk: one line, the path
        return disk_error(exc), 1
    return f"{type(exc).__name__}: {exc}{unexpected}", 1


@contextlib.contextmanager
def terminated_as_interrupt():
    """SIGTERM (a `kill`, a job scheduler, a container stopping) stops a command as Ctrl-C does: the run cleans up
    and says, in the same one line, how to resume; exit status 143 (128 + SIGTERM). Main thread only."""

    def stop(signum, frame):
        if _in_gc_callback(frame):  # Python discards an exception raised there: ask again in a moment
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
            return
        raise Interrupted("interrupted (SIGTERM)", 128 + signal.SIGTERM)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _in_gc_callback(frame) -> bool:
    """Whether the signal arrived while a garbage-collection callback ran (JAX registers one): an exception raised
    inside it is printed as "Exception ignored" and dropped, and the command would go on."""
    import gc

    codes = {getattr(callback, "__code__", None) for callback in gc.callbacks} - {None}
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False
