"""Open a store: how this process reaches Chroma, chosen so that no two processes ever have one
embedded store's files open at once (see `index.owner` for why).

    conn = connect("/tmp/store")                     # embedded: this process owns the folder
    conn = connect("/tmp/store", serve=True)         # owns it and serves it to other processes
    conn = connect("", "http://127.0.0.1:8000")      # a `chroma run` server (QA_CHROMA_URL)
    ...
    conn.close()

For an embedded store folder:
1. when another process owns the folder and serves it, connect to its server over HTTP;
2. otherwise take the folder's lock and open it with `PersistentClient` (with `serve=True`, also
   start a `chroma run` server on it and advertise it, then use that server like everyone else);
3. when another process owns the folder without serving it (a `qa ingest` run), wait for it, up
   to `wait` seconds, telling `on_wait` once whom we wait for; then `StoreBusyError`.
Within one process, connections to the same folder share one client and one lock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from index.errors import ConfigError, StoreBusyError, StoreError
from index.iolock import IoLock, NoLock, io_lock
from index.owner import OwnerInfo, StoreLock, read_owner
from index.server import StoreServer
from index.store import store_failure

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
WaitFn = Callable[[OwnerInfo], None]


def _chroma_settings() -> Any:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def persistent_client(folder: Path) -> Any:
    """Chroma's embedded client on `folder`. When Chroma cannot open it, the half-started
    instance Chroma caches for the folder is dropped, so a later attempt (after a repair) in
    this process starts afresh instead of reusing the broken one."""
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    try:
        return chromadb.PersistentClient(path=str(folder), settings=_chroma_settings())
    except Exception:
        with SharedSystemClient._refcount_lock:
            SharedSystemClient._identifier_to_system.pop(str(folder), None)
            SharedSystemClient._identifier_to_refcount.pop(str(folder), None)
        raise


def http_client(url: str) -> Any:
    """A client of the Chroma server at `url` (checked with a heartbeat)."""
    import chromadb

    u = urlparse(url)
    if not u.hostname:
        raise ConfigError(f"chroma_url {url!r} has no host; use http://HOST:PORT")
    try:
        client = chromadb.HttpClient(
            host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
            ssl=u.scheme == "https", settings=_chroma_settings(),
        )
        client.heartbeat()
    except Exception as e:
        raise StoreError(
            f"Cannot reach the Chroma server at {url} ({e}). Start it with "
            "`chroma run --host 127.0.0.1 --port PORT --path DIR`, or unset QA_CHROMA_URL "
            "to use the embedded store."
        ) from e
    return client


@dataclass(frozen=True)
class CloudLogin:
    """Chroma Cloud credentials (QA_CHROMA_API_KEY / CHROMA_API_KEY, tenant, database; empty
    tenant or database: the ones the key belongs to)."""

    api_key: str
    tenant: str = ""
    database: str = ""

    def __repr__(self) -> str:  # never the key
        return f"CloudLogin(tenant={self.tenant!r}, database={self.database!r})"


def cloud_place(login: CloudLogin | None) -> str:
    """"tenant/database" of a Chroma Cloud store ("" otherwise): part of its catalog's name."""
    return f"{login.tenant}/{login.database}" if login is not None else ""


def cloud_client(url: str, login: CloudLogin) -> Any:
    """A client of Chroma Cloud at `url` (https://api.trychroma.com), checked by a call."""
    import chromadb

    u = urlparse(url)
    if not u.hostname:
        raise ConfigError(f"chroma_url {url!r} has no host; leave it empty for Chroma Cloud")
    try:
        client = chromadb.CloudClient(
            tenant=login.tenant or None, database=login.database or None, api_key=login.api_key,
            settings=_chroma_settings(), cloud_host=u.hostname,
            cloud_port=u.port or (443 if u.scheme == "https" else 80),
            enable_ssl=u.scheme == "https",
        )
        client.heartbeat()
    except Exception as e:
        raise StoreError(
            f"Cannot use Chroma Cloud at {url} (tenant {login.tenant or 'of the key'}, database "
            f"{login.database or 'of the key'}): {' '.join(str(e).split())[:300]}. Check "
            "QA_CHROMA_API_KEY (or CHROMA_API_KEY), QA_CHROMA_TENANT, QA_CHROMA_DATABASE and the "
            "network."
        ) from e
    return client


@dataclass
class _Owned:
    """This process's hold on one folder, shared by its connections to it."""

    client: Any
    lock: StoreLock
    server: StoreServer | None
    users: int = 0


_owned: dict[Path, _Owned] = {}
_owned_lock = threading.Lock()


@dataclass
class Connection:
    """How this process reaches one store. `mode` is one of:
    "embedded" (this process owns the folder), "serving" (owns it and serves it to others),
    "shared" (through the owning process's server), "server" (a Chroma server, QA_CHROMA_URL).
    """

    client: Any
    mode: str
    label: str
    folder: Path | None = None
    url: str = ""
    _closed: bool = field(default=False, repr=False)

    @property
    def io(self) -> IoLock | NoLock:
        """The lock every Chroma call on this store takes (index/iolock.py)."""
        return io_lock(self.folder)

    def close(self) -> None:
        """Let go of the store (the last connection of a folder releases its lock)."""
        if self._closed:
            return
        self._closed = True
        if self.mode in ("embedded", "serving") and self.folder is not None:
            _release(self.folder)


def connect(store_path: str, chroma_url: str = "", *, serve: bool = False, wait: float = 600.0,
            on_wait: WaitFn | None = None, cloud: CloudLogin | None = None) -> Connection:
    """A connection to the store (see the module docstring); `cloud`: Chroma Cloud at
    `chroma_url`."""
    if cloud is not None:
        return Connection(cloud_client(chroma_url, cloud), "server", chroma_url, url=chroma_url)
    if chroma_url:
        return Connection(http_client(chroma_url), "server", chroma_url, url=chroma_url)
    folder = Path(store_path).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"Cannot create the store folder {folder}: {e.strerror}; check the path "
                         "(QA_STORE_PATH) and its permissions") from e
    with _owned_lock:
        mine = _owned.get(folder)
        if mine is not None:
            mine.users += 1
            mode = "serving" if mine.server else "embedded"
            return Connection(mine.client, mode, str(folder), folder, mine.server.url
                              if mine.server else "")
    got = wait_for_folder(folder, wait=wait, on_wait=on_wait)
    if isinstance(got, str):
        return Connection(http_client(got), "shared", str(folder), folder, got)
    return _own(folder, got, serve)


def wait_for_folder(folder: Path, *, wait: float, on_wait: WaitFn | None = None,
                    exclusive: bool = False) -> StoreLock | str:
    """The folder's lock (held), or the URL of the server its owner shares it through.

    `exclusive=True` wants the lock itself (to repair the files): a serving owner is then an
    immediate StoreBusyError, since it will not stop by itself.
    """
    deadline = time.monotonic() + max(0.0, wait)
    told = False
    lock = StoreLock(folder)
    while True:
        owner = read_owner(folder)
        if owner is not None and owner.server_url and owner.host in ("", socket.gethostname()):
            if exclusive:
                raise StoreBusyError(folder, owner.describe() + f", serving it at "
                                     f"{owner.server_url}; stop that process first", 0)
            try:
                http_client(owner.server_url)
                return owner.server_url
            except StoreError:
                pass  # the owner is starting or stopping its server: look again
            if time.monotonic() >= deadline:  # it advertises a server that does not answer
                raise StoreBusyError(folder, owner.describe(), wait)
        elif lock.try_acquire():
            return lock
        elif owner is not None:
            if not told:
                if on_wait is not None:
                    on_wait(owner)
                else:
                    log.warning("waiting for %s, which has the store %s open", owner.describe(),
                                folder)
                told = True
            if time.monotonic() >= deadline:
                raise StoreBusyError(folder, owner.describe(), wait)
        time.sleep(POLL_SECONDS)


def _own(folder: Path, lock: StoreLock, serve: bool) -> Connection:
    server = None
    try:
        if serve:
            server = StoreServer(folder, lock.fd)
            url = server.start()
            client = http_client(url)
            lock.advertise(url)
        else:
            client = persistent_client(folder)
    except Exception as e:
        if server is not None:
            server.stop()
        lock.release()
        if isinstance(e, StoreError):
            raise
        raise store_failure(str(folder), "opening its database", e) from e
    with _owned_lock:
        _owned[folder] = _Owned(client, lock, server, users=1)
    if server is not None:
        return Connection(client, "serving", str(folder), folder, server.url)
    return Connection(client, "embedded", str(folder), folder)


def _release(folder: Path) -> None:
    with _owned_lock:
        mine = _owned.get(folder)
        if mine is None:
            return
        mine.users -= 1
        if mine.users > 0:
            return
        del _owned[folder]
    try:
        if mine.server is not None:
            mine.server.stop()
        else:
            mine.client.close()  # drops Chroma's in-memory copy: a later open reads the files
    except Exception as e:  # noqa: BLE001 - the lock must be released whatever happens
        log.warning("closing the store %s: %s", folder, e)
    finally:
        mine.lock.release()
