"""One Chroma call at a time on a store, across the threads and processes of this machine.

Chroma's single-node server lost vector-index entries for good when a write and other requests
ran at once (seen in about one of three runs of a `qa ingest` beside a browser chat that was
answering and then ingesting an upload: 541 of 2,220 passages could no longer be found by their
own vector). Two Chroma calls on one store therefore never overlap: each takes this lock, a
`flock` on `<store>/.qa-io.lock` (other processes) plus a re-entrant lock (other threads).
A question waits at most for one write call (a batch of passages, tens of milliseconds), never
for a whole ingest.

For a Chroma server of your own (QA_CHROMA_URL) there is no shared folder to lock: `NoLock`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".qa-io.lock"


class IoLock:
    """Re-entrant within a thread; exclusive across threads and processes."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)


class NoLock:
    @contextmanager
    def held(self) -> Iterator[None]:
        yield


_locks: dict[Path, IoLock] = {}
_guard = threading.Lock()


def io_lock(folder: Path | None) -> IoLock | NoLock:
    """The lock of the store folder (one object per folder in this process)."""
    if folder is None:
        return NoLock()
    with _guard:
        if folder not in _locks:
            _locks[folder] = IoLock(folder)
        return _locks[folder]
