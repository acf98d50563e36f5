"""One contract every store backend passes: the embedded folder and a real `chroma run` server.

Add, replace, delete, count, idempotent re-ingest, duplicates, prune, interrupted ingest, model
mismatch, and retrieval, all through the public API with the real embedder and real Chroma.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import index.ingest
from index.chunk import Chunker
from index.load import load_paths
from qa.errors import StoreError, StoreMismatchError
from qa.settings import Settings

CHUNK_TOKENS = 64
CHUNK_OVERLAP = 16

TOPICS = ["harbour", "orchard", "railway", "museum", "stadium", "library", "bakery", "observatory"]
PEOPLE = ["Amara Quist", "Tomas Reyne", "Ilse Varga", "Kofi Mensah", "Lena Broch", "Ravi Anand"]
VERBS = ["inspected", "reopened", "funded", "criticised", "photographed", "mapped"]


def article_text(i: int, n_sentences: int = 10, variant: str = "") -> str:
    """A small news-like article with a unique, deterministic text; `variant` changes it."""
    topic = TOPICS[i % len(TOPICS)]
    lines = [f"Council reviews the {topic} plan number {i}{variant}"]
    for k in range(n_sentences):
        who = PEOPLE[(i + k) % len(PEOPLE)]
        verb = VERBS[(i * 3 + k) % len(VERBS)]
        lines.append(
            f"On day {k + 1}, {who} {verb} the {topic} site {i}-{k}{variant} and told reporters "
            f"that the budget of {100 + 7 * i + k} thousand was enough."
        )
    return "\n".join(lines) + "\n"


def write_articles(folder: Path, ids: Sequence[int], variant: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in ids:
        p = folder / f"article_{i:03d}.txt"
        p.write_text(article_text(i, variant=variant), encoding="utf-8")
        paths.append(p)
    return paths


class CountingEmbedder:
    """The real embedder, counting calls and texts; raises KeyboardInterrupt on call `fail_on`."""

    def __init__(self, inner: Any, name: str | None = None, fail_on: int = 0) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.dim = inner.dim
        self.fail_on = fail_on
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.fail_on and self.calls == self.fail_on:
            raise KeyboardInterrupt("simulated Ctrl-C during embedding")
        self.texts += len(texts)
        return self.inner.embed(texts)


# -- backends ---------------------------------------------------------------------------------

@dataclass
class Backend:
    kind: str
    settings: Settings

    def open(self, embedder: Any) -> Any:
        from qa import Assistant

        return Assistant.open(self.settings, embedder=embedder)


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Backend:
    """Settings for a fresh, empty store on each backend (a distinct collection per test)."""
    common: dict[str, Any] = {"chunk_tokens": CHUNK_TOKENS, "chunk_overlap": CHUNK_OVERLAP}
    if request.param == "embedded":
        return Backend("embedded", Settings(store_path=str(tmp_path / "store"), **common))
    url = request.getfixturevalue("chroma_server")
    # the catalog (with its lexical index) of a server store lives under ~/.cache: keep it in
    # this test's tmp dir
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    collection = "t" + uuid.uuid4().hex[:12]
    return Backend("server", Settings(store_path=str(tmp_path / "unused"), chroma_url=url,
                                      collection=collection, **common))


# -- helpers ----------------------------------------------------------------------------------
def expected_chunks(paths: Sequence[Path]) -> dict[str, int]:
    """article id -> number of chunks the chunker makes of it (what the store must hold)."""
    loaded, failed = load_paths(paths)
    assert not failed
    chunker = Chunker(CHUNK_TOKENS, CHUNK_OVERLAP)
    return {la.article.article_id: len(chunker.chunk(la.article)) for la in loaded}


def stored_chunks(bot: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return list(bot.store.all_chunks())


def assert_consistent(bot: Any, expected: dict[str, int]) -> None:
    """The store holds exactly the expected articles, each with its chunks once, spans exact."""
    rows = stored_chunks(bot)
    per_article = Counter(str(md["article_id"]) for _, _, md in rows)
    assert dict(per_article) == expected
    assert bot.store.count_chunks() == sum(expected.values())
    assert bot.store.count_articles() == len(expected)
    assert {i.meta.article_id: i.n_chunks for i in bot.articles()} == expected
    keys = Counter((md["article_id"], md["index"]) for _, _, md in rows)
    assert max(keys.values()) == 1, "a chunk is stored twice"
    texts = Counter((md["article_id"], text) for _, text, md in rows)
    assert max(texts.values()) == 1, "the same chunk text is stored twice for one article"
    for _, text, md in rows:
        assert bot.article_text(md["article_id"])[md["start"] : md["end"]] == text


# -- the contract -----------------------------------------------------------------------------
def test_add_two_articles_counts(backend: Backend, embedder: Any, tmp_path: Path) -> None:
    paths = write_articles(tmp_path / "in", [1, 2])
    bot = backend.open(embedder)
    assert bot.store.count_chunks() == 0 and bot.articles() == []
    report = bot.ingest([tmp_path / "in"])
    assert report.ok and report.count("added") == 2, report
    expected = expected_chunks(paths)
    assert all(n >= 2 for n in expected.values()), "the test articles should span several chunks"
    assert report.n_embedded == sum(expected.values())
    assert {r.article_id: r.n_chunks for r in report.results} == expected
    assert_consistent(bot, expected)
    assert bot.article_text(str(paths[0].resolve())) == paths[0].read_text(encoding="utf-8").strip()


def test_changed_article_replaces_its_chunks(backend: Backend, embedder: Any, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    paths = write_articles(folder, [1, 2])
    bot = backend.open(embedder)
    bot.ingest([folder])
    changed_id = str(paths[0].resolve())
    old_ids = {cid for cid, _, md in stored_chunks(bot) if md["article_id"] == changed_id}
    old_texts = {t for _, t, md in stored_chunks(bot) if md["article_id"] == changed_id}
    gen_before = bot.store.generation()

    paths[0].write_text(article_text(1, n_sentences=14, variant="b"), encoding="utf-8")
    report = bot.ingest([folder])
    assert report.ok
    assert {r.article_id: r.status for r in report.results} == {
        changed_id: "updated", str(paths[1].resolve()): "unchanged"}
    expected = expected_chunks(paths)
    assert report.n_embedded == expected[changed_id]
    assert_consistent(bot, expected)
    rows = [(cid, t) for cid, t, md in stored_chunks(bot) if md["article_id"] == changed_id]
    assert not old_ids & {cid for cid, _ in rows}, "old chunk ids survived the update"
    assert not old_texts & {t for _, t in rows}, "old chunk texts survived the update"
    assert "site 1-0b" in bot.article_text(changed_id)
    assert bot.store.generation() != gen_before


def test_delete_article(backend: Backend, embedder: Any, tmp_path: Path) -> None:
    paths = write_articles(tmp_path / "in", [1, 2, 3])
    bot = backend.open(embedder)
    bot.ingest([tmp_path / "in"])
    gone = str(paths[1].resolve())
    assert bot.delete_article(gone) is True
    expected = expected_chunks([paths[0], paths[2]])
    assert_consistent(bot, expected)
    assert bot.store.article(gone) is None
    assert bot.delete_article(gone) is False
    assert bot.store.count_chunks() == sum(expected.values())


def test_reingest_is_idempotent_and_embeds_nothing(backend: Backend, embedder: Any,
                                                   tmp_path: Path) -> None:
    paths = write_articles(tmp_path / "in", [1, 2, 3])
    bot = backend.open(embedder)
    bot.ingest([tmp_path / "in"])
    before = sorted(stored_chunks(bot))
    gen = bot.store.generation()

    counting = CountingEmbedder(embedder)
    again = backend.open(counting)
    report = again.ingest([tmp_path / "in"])
    assert report.ok and report.count("unchanged") == 3 and len(report.results) == 3, report
    assert report.n_embedded == 0
    assert counting.calls == 0, "an unchanged article was embedded again"
    assert sorted(stored_chunks(again)) == before
    assert again.store.generation() == gen, "an ingest that changed nothing bumped the generation"
    assert_consistent(again, expected_chunks(paths))


def test_same_text_under_two_names_is_stored_once(backend: Backend, embedder: Any,
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "in"
    paths = write_articles(folder, [1, 2])
    twin = folder / "zz_copy_of_1.txt"
    shutil.copy(paths[0], twin)
    bot = backend.open(embedder)
    report = bot.ingest([folder])
    assert report.ok
    assert report.count("added") == 2 and report.count("duplicate") == 1, report
    dup = next(r for r in report.results if r.status == "duplicate")
    assert dup.path == str(twin) and str(paths[0]) in dup.reason
    assert_consistent(bot, expected_chunks(paths))

    # later, too: a new file with stored text is a duplicate, not a second copy
    late = tmp_path / "later" / "again.txt"
    late.parent.mkdir()
    shutil.copy(paths[1], late)
    report = bot.ingest([late])
    assert report.count("duplicate") == 1 and report.n_embedded == 0
    assert_consistent(bot, expected_chunks(paths))


def test_prune_removes_articles_whose_files_are_gone(backend: Backend, embedder: Any,
                                                     tmp_path: Path) -> None:
    folder = tmp_path / "in"
    paths = write_articles(folder, [1, 2, 3])
    bot = backend.open(embedder)
    bot.ingest([folder])
    paths[2].unlink()

    report = bot.ingest([folder])  # without --prune nothing is removed
    assert report.count("pruned") == 0 and bot.store.count_articles() == 3

    report = bot.ingest([folder], prune=True)
    assert report.ok
    pruned = [r for r in report.results if r.status == "pruned"]
    assert [r.article_id for r in pruned] == [str(paths[2].resolve())]
    assert report.count("unchanged") == 2
    assert_consistent(bot, expected_chunks(paths[:2]))


def test_interrupted_ingest_then_rerun_completes_exactly(
    backend: Backend, embedder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    paths = write_articles(folder, list(range(1, 7)))
    expected = expected_chunks(paths)
    # embedding batches of one article's size: the third call is cut short, two are stored
    monkeypatch.setattr(index.ingest, "EMBED_BATCH_CHUNKS", max(expected.values()))

    failing = CountingEmbedder(embedder, fail_on=3)
    bot = backend.open(failing)
    with pytest.raises(KeyboardInterrupt):
        bot.ingest([folder])
    assert failing.calls == 3
    partial = bot.store.count_articles()
    assert 0 < partial < len(paths), "the interruption should leave a partial store"

    report = backend.open(embedder).ingest([folder])
    assert report.ok
    assert report.count("unchanged") == partial
    assert report.count("added") == len(paths) - partial
    assert_consistent(backend.open(embedder), expected)


def test_store_built_by_another_model_is_refused(backend: Backend, embedder: Any,
                                                 tmp_path: Path) -> None:
    write_articles(tmp_path / "in", [1])
    backend.open(embedder).ingest([tmp_path / "in"])
    other = CountingEmbedder(embedder, name="some-other-embedding-model")
    with pytest.raises(StoreMismatchError) as err:
        backend.open(other)
    msg = str(err.value)
    assert embedder.name in msg and "some-other-embedding-model" in msg
    assert "QA_EMBED_BACKEND" in msg  # says how to fix it
    assert other.calls == 0
    assert backend.open(embedder).store.count_articles() == 1  # the store is untouched


def test_retrieval_gives_a_cited_answer(backend: Backend, embedder: Any, sample_dir: Path) -> None:
    bot = backend.open(embedder)
    assert bot.ingest([sample_dir]).count("added") == 3
    ans = bot.ask("Which judge denied Baldoni's motion?")
    assert not ans.refused and ans.citations
    assert "Liman" in ans.text
    for c in ans.citations:
        assert bot.article_text(c.article.article_id)[c.start : c.end] == c.quote
    assert any("Liman" in c.quote for c in ans.citations)
    passages, _, _ = bot.retrieve("Which judge denied Baldoni's motion?")
    assert passages and all(p.chunk.text for p in passages)


def test_chroma_cloud_is_reached_with_its_key_tenant_and_database(tmp_path: Path) -> None:
    """Chroma Cloud, up to the network: a loopback endpoint in its place records what our
    client sends (the key in Chroma's token header, the tenant and database in the paths)
    and answers 401, which must come back as a clear error naming what to check; nothing is
    written beside the store."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from qa import Assistant

    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append((self.path, self.headers.get("x-chroma-token", "")))
            body = b'{"error": "Unauthorized", "message": "bad key"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # the http.server API

        def log_message(self, *a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = Settings(store_path=str(tmp_path / "unused"), chroma_api_key="ck-secret-key",
                     chroma_tenant="newsroom", chroma_database="archive",
                     chroma_url=f"http://127.0.0.1:{server.server_port}")
        assert "ck-secret-key" not in repr(s.public_dict()) and "Chroma Cloud" in s.store_label
        with pytest.raises(StoreError) as err:
            Assistant.open(s)
    finally:
        server.shutdown()
    msg = str(err.value)
    assert "Chroma Cloud" in msg and "QA_CHROMA_API_KEY" in msg and "newsroom" in msg, msg
    assert "ck-secret-key" not in msg
    assert seen and all(token == "ck-secret-key" for _, token in seen), seen
    assert not (tmp_path / "unused").exists()
