"""A run folder belongs to one process: an advisory lock on `.lock` inside it, held for the life
of a fit or a resume, with the holder's pid and host in the file for the message a second
process gets.

    with RunLock(path):          # RunError (exit 2) naming pid and host when another process holds it
        ...write the run folder...

The lock is `flock(LOCK_EX | LOCK_NB)` (as pip, Mercurial and systemd use it): the kernel drops
it when the holder's file descriptor closes, so a crashed or killed process never leaves a
stale lock behind, only the `.lock` file, which the next holder reuses. The file is never
deleted: unlinking a lock file lets two processes hold locks on two different files.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

from ..errors import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: run folders are not locked there
    fcntl = None

LOCK = ".lock"


def holder(path: Path) -> str:
    """'process 123 on host' from a lock file, or a plainer phrase when it cannot be read."""
    try:
        pid, _, host = (path / LOCK).read_text(encoding="utf-8", errors="replace").strip().partition(" ")
    except OSError:
        return "another process"
    return f"process {pid} on {host}" if pid.isdigit() and host else "another process"


class RunLock:
    """The lock of one run folder (which must exist). `acquire` or use it as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        if fcntl is None or self.fd is not None:
            return self
        try:
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunError(f"cannot lock run folder {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunError(f"{self.path} is in use by {holder(self.path)} (a run folder belongs to one "
                           f"`nntrain fit` at a time); wait for it to end or stop it, or use another folder") from None
        except OSError as exc:  # a filesystem without flock: say so rather than run unprotected
            os.close(fd)
            raise RunError(f"cannot lock run folder {self.path}: {exc.strerror}") from None
        # who holds it, for the message another process gets; written under the lock
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {platform.node()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
