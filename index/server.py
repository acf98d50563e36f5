"""A `chroma run` server for one store folder, started by the process that owns the folder.

This is how several processes share one embedded store safely: the owner (`qa serve`, `qa ui`)
starts Chroma's own server on the folder, bound to 127.0.0.1 on a free port, and every other
process (a `qa ingest` in a terminal, a second `qa ui`, a notebook) talks to it over HTTP, so
only one process ever has the files open. The server:
- inherits the owner's lock on the folder, so the folder stays locked until the server is gone;
- is told by the kernel to exit when the owner dies (PR_SET_PDEATHSIG), however the owner dies;
- logs to `<store>/.qa-server.log`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from index.errors import StoreError

LOG_FILE = ".qa-server.log"
START_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def chroma_cli() -> str:
    """The `chroma` command installed with chromadb (beside this Python, else on PATH)."""
    exe = Path(sys.executable).parent / "chroma"
    found = str(exe) if exe.exists() else shutil.which("chroma")
    if not found:
        raise StoreError("The `chroma` command is missing (it comes with chromadb): reinstall "
                         "the project with `pip install -e .`")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def heartbeat(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=timeout) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class StoreServer:
    """`chroma run --path FOLDER` on 127.0.0.1; `url` once started. Stop it with `stop()`."""

    def __init__(self, folder: Path, lock_fd: int, host: str = "127.0.0.1") -> None:
        self.folder = folder
        self.lock_fd = lock_fd
        self.host = host
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the server (retrying once on a port taken meanwhile); returns its URL."""
        last = ""
        for _ in range(3):
            port = free_port(self.host)
            url = f"http://{self.host}:{port}"
            env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
            with open(self.folder / LOG_FILE, "wb") as log:
                proc = subprocess.Popen(
                    [chroma_cli(), "run", "--path", str(self.folder), "--host", self.host,
                     "--port", str(port)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                    pass_fds=(self.lock_fd,), preexec_fn=_die_with_parent,  # noqa: PLW1509
                )
            deadline = time.monotonic() + START_SECONDS
            while time.monotonic() < deadline and proc.poll() is None:
                if heartbeat(url, timeout=1.0):
                    self._proc, self.url = proc, url
                    return url
                time.sleep(0.05)
            last = self._log_tail()
            stop_process(proc)
        raise StoreError(f"Could not start a Chroma server for the store {self.folder}: {last} "
                         f"(full log: {self.folder / LOG_FILE})")

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None

    def _log_tail(self) -> str:
        try:
            lines = (self.folder / LOG_FILE).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " / ".join(line.strip() for line in lines[-3:] if line.strip()) or "no output"


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child, killing it if it has not ended in 15 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
