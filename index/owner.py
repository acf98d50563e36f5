"""One process at a time owns an embedded store's files.

Chroma's embedded client is thread-safe but not process-safe: two processes that write one store
folder each keep their own copy of the vector index in memory and persist it over the other's,
and the vectors of one writer are lost for good (seen: 631 of 3,000 chunks). Even a process that
only reads compacts Chroma's log into the index files. So the folder has exactly one owner: the
process holding an exclusive `flock` on `<store>/.qa-owner.lock`, for as long as it has the
folder open. It describes itself in `<store>/.qa-owner.json` (PID, command, start time and, when
it serves the store to other processes, its server's URL).

A process that finds the store owned connects to the owner's server when there is one, and
otherwise waits for the owner to finish (`index.connect` decides). The kernel drops a `flock` when
its holder dies, however it dies, so a killed owner never leaves the store locked.

    >>> lock = StoreLock(Path("/tmp/store"))                      # doctest: +SKIP
    >>> lock.try_acquire() or read_owner(Path("/tmp/store"))      # doctest: +SKIP
    >>> lock.release()                                            # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from index.errors import StoreError

LOCK_FILE = ".qa-owner.lock"
INFO_FILE = ".qa-owner.json"


@dataclass(frozen=True)
class OwnerInfo:
    """Who owns a store folder right now."""

    pid: int
    command: str
    since: float  # epoch seconds
    host: str = ""
    server_url: str = ""  # set while the owner serves the store to other processes

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"PID {self.pid} (`{self.command}`, since {when})"


def this_process(server_url: str = "") -> OwnerInfo:
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    command = " ".join(shlex.quote(a) for a in argv)[:200]
    return OwnerInfo(os.getpid(), command, time.time(), socket.gethostname(), server_url)


def _probe_held(folder: Path) -> bool:
    """Whether some open file description holds the lock (ours included)."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock the probe itself took
    return False


def read_owner(folder: Path) -> OwnerInfo | None:
    """The live owner of `folder`, or None when nobody holds it (a stale record is ignored)."""
    try:
        data = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        info = OwnerInfo(**{k: data[k] for k in OwnerInfo.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError, KeyError):
        info = None
    if not _probe_held(folder):
        return None
    return info or OwnerInfo(pid=0, command="unknown process", since=time.time())


class StoreLock:
    """The exclusive lock on one store folder; hold it while the folder is open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise RuntimeError("the store lock is not held")
        return self._fd

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"Cannot open the store folder {self.folder}: {e.strerror}; "
                             "check the path (QA_STORE_PATH) and its permissions") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.set_inheritable(fd, False)
        self._fd = fd
        self.advertise("")
        return True

    def advertise(self, server_url: str) -> None:
        """Describe this process (and the server it runs, if any) to the others."""
        info = this_process(server_url)
        tmp = self.folder / f"{INFO_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(asdict(info)), encoding="utf-8")
        os.replace(tmp, self.folder / INFO_FILE)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            (self.folder / INFO_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
