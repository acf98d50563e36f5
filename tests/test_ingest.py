"""Ingestion of bad input beside good input, the `qa ingest` exit code, and a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cli import main as qa_main
from index.chunk import Chunker
from index.load import load_paths
from qa.settings import Settings
from tests.conftest import ROOT, make_bot

GOOD_A = (
    "Harbour board approves the new ferry terminal\n"
    "The harbour board approved a new ferry terminal on Monday after a long debate.\n"
    "Its chair, Mira Olsen, said the terminal would open in the spring of next year.\n"
)
GOOD_B = (
    "Orchard growers report a record apple harvest\n"
    "Growers in the valley picked more apples this autumn than in any year on record.\n"
    "The cooperative said prices would stay low because of the large supply.\n"
)
KEEP = (
    "Library extends its opening hours\n"
    "The city library will stay open until ten in the evening from next week.\n"
    "The librarian, Jonas Pike, said students had asked for the change for years.\n"
)


def snapshot(bot: Any) -> list[tuple[str, str, tuple[tuple[str, Any], ...]]]:
    """Every stored chunk (id, text, metadata), sorted: equal snapshots mean nothing changed."""
    return sorted((cid, text, tuple(sorted(md.items()))) for cid, text, md in bot.store.all_chunks())


def write_bad_files(folder: Path) -> dict[str, str]:
    """Bad files of every kind; returns file name -> a phrase its failure reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_text("   \n\n  \t\n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me: the caf\xe9 reopened.".encode("latin-1"))
    (folder / "broken.json").write_text('{"title": "Half", "text": "cut off', encoding="utf-8")
    (folder / "huge.txt").write_text("A long line of words. " * 400, encoding="utf-8")  # 8,800 bytes
    return {
        "empty.txt": "empty",
        "blank.md": "empty",
        "binary.txt": "binary",
        "latin1.txt": "UTF-8",
        "broken.json": "invalid JSON",
        "huge.txt": "limit",
    }


def test_bad_files_fail_alone_and_touch_nothing_stored(embedder: Any, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    keep = folder / "keep.txt"
    keep.write_text(KEEP, encoding="utf-8")
    bot = make_bot(tmp_path, embedder, max_file_bytes=4000)
    assert bot.ingest([folder]).count("added") == 1
    keep_id = str(keep.resolve())
    before = snapshot(bot)
    text_before = bot.article_text(keep_id)
    gen_before = bot.store.generation()

    reasons = write_bad_files(folder)
    (folder / "good_a.txt").write_text(GOOD_A, encoding="utf-8")
    (folder / "good_b.md").write_text(GOOD_B, encoding="utf-8")
    # the stored article's own file turns bad: its stored version must survive untouched
    keep.write_bytes(b"\x00\x01\x02 not text any more \xff\xfe" * 20)
    reasons["keep.txt"] = "binary"

    report = bot.ingest([folder])
    assert not report.ok
    failed = {Path(r.path).name: r.reason for r in report.failed}
    assert set(failed) == set(reasons), failed
    for name, phrase in reasons.items():
        assert phrase.lower() in failed[name].lower(), (name, failed[name])
    assert "QA_MAX_FILE_BYTES" in failed["huge.txt"]  # says how to fix it
    assert {Path(r.path).name for r in report.results if r.status == "added"} == {
        "good_a.txt", "good_b.md"}
    assert report.count("failed") == len(reasons)

    # the good ones are stored and answerable ...
    assert bot.store.count_articles() == 3
    ans = bot.ask("When will the ferry terminal open?")
    assert not ans.refused and "spring" in ans.text
    # ... and nothing stored before was touched
    assert bot.article_text(keep_id) == text_before
    kept = [row for row in snapshot(bot) if dict(row[2])["article_id"] == keep_id]
    assert kept == before
    assert gen_before != bot.store.generation()  # (the good ones did change the store)


def test_only_bad_files_change_nothing(embedder: Any, tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "keep.txt").write_text(KEEP, encoding="utf-8")
    bot = make_bot(tmp_path, embedder, max_file_bytes=4000)
    bot.ingest([good])
    before, gen = snapshot(bot), bot.store.generation()
    reasons = write_bad_files(tmp_path / "bad")
    report = bot.ingest([tmp_path / "bad", tmp_path / "no-such-folder"])
    assert not report.ok and report.n_embedded == 0
    assert report.count("failed") == len(reasons) + 1
    missing = next(r for r in report.failed if r.path.endswith("no-such-folder"))
    assert "no such file" in missing.reason
    assert snapshot(bot) == before and bot.store.generation() == gen


def test_json_records_fail_one_by_one(embedder: Any, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "feed.jsonl").write_text(
        '{"title": "Ferry", "text": ' + repr(GOOD_A).replace("'", '"') + ', "source": "Port News"}\n'
        '{"title": "No text here"}\n'
        "{not json}\n",
        encoding="utf-8",
    )
    bot = make_bot(tmp_path, embedder)
    report = bot.ingest([folder])
    assert report.count("added") == 1 and report.count("failed") == 2
    by_path = {r.path.rsplit("#", 1)[-1]: r for r in report.results}
    assert "no text" in by_path["1"].reason
    assert "invalid JSON at line 3" in by_path["2"].reason
    [info] = bot.articles()
    assert info.meta.source == "Port News"


def test_qa_ingest_exit_code(embedder: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good_a.txt").write_text(GOOD_A, encoding="utf-8")
    store = str(tmp_path / "store")
    assert qa_main(["ingest", str(folder), "--store", store, "-q"]) == 0
    assert "1 added" in capsys.readouterr().out

    reasons = write_bad_files(folder)
    monkeypatch.setenv("QA_MAX_FILE_BYTES", "4000")
    code = qa_main(["ingest", str(folder), "--store", store, "-q"])
    out = capsys.readouterr().out
    assert code == 1
    for name in reasons:
        assert f"failed    {folder / name}:" in out, out
    assert f"0 added, 0 updated, 1 unchanged, 0 duplicate, 0 pruned, {len(reasons)} failed" in out

    assert qa_main(["ingest", str(tmp_path / "nowhere"), "--store", store, "-q"]) == 1


# -- a real kill -------------------------------------------------------------------------------
N_KILL_ARTICLES = 60
KILL_CHUNK_TOKENS = 48
KILL_OVERLAP = 8
SUBJECTS = ["The mayor", "A spokesperson", "The union", "Local traders", "The court", "Police"]
OBJECTS = ["the bridge repairs", "the school budget", "the water tariff", "the night buses",
           "the market lease", "the flood barrier", "the tram extension"]


def kill_article(i: int) -> str:
    lines = [f"Town report {i}: {OBJECTS[i % len(OBJECTS)]}"]
    for k in range(14):
        lines.append(
            f"{SUBJECTS[(i + k) % len(SUBJECTS)]} discussed {OBJECTS[(i * 5 + k) % len(OBJECTS)]} "
            f"in meeting {i}.{k}, and a vote of {k + 3} to {i % 9 + 1} followed."
        )
    return "\n".join(lines) + "\n"


def _stored_rows(store_dir: Path) -> int:
    db = store_dir / "chroma.sqlite3"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)
        try:
            return int(con.execute("SELECT count(*) FROM embeddings").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_mid_ingest_then_rerun_is_exact(embedder: Any, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(N_KILL_ARTICLES):
        (folder / f"report_{i:03d}.txt").write_text(kill_article(i), encoding="utf-8")
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env.update(QA_CHUNK_TOKENS=str(KILL_CHUNK_TOKENS), QA_CHUNK_OVERLAP=str(KILL_OVERLAP),
               ANONYMIZED_TELEMETRY="False", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest", str(folder), "--store", str(store), "-q"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while _stored_rows(store) == 0:
        assert proc.poll() is None, f"ingest ended before it was killed: {proc.communicate()[0]!r}"
        assert time.monotonic() < deadline, "ingest wrote nothing in 300 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    settings: dict[str, Any] = {"chunk_tokens": KILL_CHUNK_TOKENS, "chunk_overlap": KILL_OVERLAP}
    bot = make_bot(tmp_path, embedder, **settings)
    assert bot.store.count_articles() < N_KILL_ARTICLES, "the kill came too late to test anything"

    report = bot.ingest([folder])
    assert report.ok, report.failed
    assert report.count("added") + report.count("unchanged") == N_KILL_ARTICLES

    loaded, failed = load_paths([folder])
    assert not failed
    s = Settings(store_path=str(tmp_path / "store"), **settings)
    chunker = Chunker(s.chunk_tokens, s.chunk_overlap)
    expected = {la.article.article_id: len(chunker.chunk(la.article)) for la in loaded}
    rows = list(bot.store.all_chunks())
    assert dict(Counter(str(md["article_id"]) for _, _, md in rows)) == expected
    assert bot.store.count_chunks() == sum(expected.values())
    assert {i.meta.article_id for i in bot.articles()} == set(expected)
    dup = Counter((md["article_id"], text) for _, text, md in rows)
    assert max(dup.values()) == 1, "duplicate chunk texts after the rerun"
    for _, text, md in rows:
        assert bot.article_text(str(md["article_id"]))[md["start"] : md["end"]] == text
    again = bot.ingest([folder])
    assert again.count("unchanged") == N_KILL_ARTICLES and again.n_embedded == 0


def test_progress_starts_at_zero_and_counts_every_passage(tmp_path: Path, embedder: Any) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in (("a.txt", GOOD_A), ("b.txt", GOOD_B), ("k.txt", KEEP)):
        (folder / name).write_text(text, encoding="utf-8")
    calls: list[tuple[int, int]] = []
    bot = make_bot(tmp_path, embedder)
    report = bot.ingest([folder], progress=lambda done, total, path: calls.append((done, total)))
    n = sum(r.n_chunks for r in report.results)
    assert calls[0] == (0, n) and calls[-1] == (n, n)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    calls.clear()
    bot.ingest([folder], progress=lambda done, total, path: calls.append((done, total)))
    assert calls == []  # nothing to embed: no bar at all


# -- the same id twice: a conflict, never a silent replacement ---------------------------------
def test_same_url_twice_in_one_file_and_across_files_is_a_conflict(embedder: Any,
                                                                   tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [{"url": "https://example.com/a", "title": "A", "text": GOOD_A},
            {"url": "https://example.com/a", "title": "A again", "text": GOOD_B},
            {"url": "https://example.com/k", "title": "K", "text": KEEP}]
    first = folder / "first.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    bot = make_bot(tmp_path, embedder)
    report = bot.ingest([first])
    assert not report.ok and report.count("added") == 2 and report.count("conflict") == 1
    conflict = next(r for r in report.results if r.status == "conflict")
    assert conflict.path == f"{first}#1" and "https://example.com/a" in conflict.reason
    assert "1 conflict" in report.summary()
    assert "Lively" not in bot.article_text("https://example.com/a")
    assert "Growers" not in bot.article_text("https://example.com/a")  # the first record kept
    before = snapshot(bot)

    other = folder / "other.jsonl"
    other.write_text(json.dumps({"url": "https://example.com/k", "title": "K2",
                                 "text": "A different text under the same address."}),
                     encoding="utf-8")
    report = bot.ingest([other])
    assert report.count("conflict") == 1 and not report.ok
    reason = report.results[0].reason
    assert str(first) in reason and "qa delete" in reason
    assert snapshot(bot) == before  # nothing was replaced
    # the first file gone: the same address from another file is an update, not a conflict
    first.unlink()
    assert bot.ingest([other]).count("updated") == 1


def test_odd_file_names_are_printed_safely(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "odd\x1b[31m\nname.txt").write_text(GOOD_A, encoding="utf-8")
    assert qa_main(["ingest", str(folder), "--store", str(tmp_path / "store"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "odd\\x1b[31m\\nname.txt" in out


def test_a_long_article_reports_progress_batch_by_batch(tmp_path: Path, embedder: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import index.ingest

    monkeypatch.setattr(index.ingest, "EMBED_BATCH_CHUNKS", 8)
    long_text = "A long report\n" + "\n".join(
        f"Paragraph {i} says the harbour board met on day {i} and agreed item {i}." for i in
        range(200))
    (tmp_path / "long.txt").write_text(long_text, encoding="utf-8")
    calls: list[tuple[int, int]] = []
    bot = make_bot(tmp_path, embedder, chunk_tokens=32, chunk_overlap=0)
    report = bot.ingest([tmp_path / "long.txt"],
                        progress=lambda d, t, p: calls.append((d, t)))
    n = report.results[0].n_chunks
    assert n > 40 and calls[0] == (0, n) and calls[-1] == (n, n)
    assert len(calls) >= n // 8  # the bar moves while one article is embedded
    assert bot.store.count_chunks() == n and bot.check().ok
