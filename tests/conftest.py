"""Shared fixtures. Real parts throughout: the bundled embedding model, real Chroma, tiktoken.

Fixtures that only one test module needs live in that module, not here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.server import chroma_cli, free_port, heartbeat, stop_process

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "data" / "articles"
GOLD = ROOT / "eval" / "gold.jsonl"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _no_model_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches OpenAI by accident: keys and servers come only from the test itself."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real default embedding model, loaded once per test session."""
    from index.embed import OnnxMiniLM

    return OnnxMiniLM()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the shipped sample articles (tests may change their copy)."""
    d = tmp_path_factory.mktemp("sample") / "articles"
    shutil.copytree(SAMPLE_DIR, d)
    return d


@pytest.fixture(scope="session")
def sample_bot(tmp_path_factory: pytest.TempPathFactory, embedder, sample_dir: Path):  # type: ignore[no-untyped-def]
    """An Assistant over the three sample articles in an embedded store (read-only use)."""
    from qa import Assistant, Settings

    store = tmp_path_factory.mktemp("sample-store")
    bot = Assistant.open(Settings(store_path=str(store)), embedder=embedder)
    report = bot.ingest([sample_dir])
    assert report.ok and report.count("added") == 3, report
    return bot


def make_bot(tmp_path: Path, embedder, **settings):  # type: ignore[no-untyped-def]
    """A fresh Assistant on an empty store in `tmp_path` (for tests that write)."""
    from qa import Assistant, Settings

    return Assistant.open(Settings(store_path=str(tmp_path / "store"), **settings), embedder=embedder)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port; yields its URL."""
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    url = f"http://127.0.0.1:{port}"
    with open(data / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [chroma_cli(), "run", "--host", "127.0.0.1", "--port", str(port),
             "--path", str(data / "db")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not heartbeat(url):
                if proc.poll() is not None:
                    pytest.fail(f"chroma run exited with {proc.returncode}: "
                                f"{(data / 'server.log').read_text(errors='replace')[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("chroma run did not answer its heartbeat within 60 s")
                time.sleep(0.2)
            yield url
        finally:
            stop_process(proc)
