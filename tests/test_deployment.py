"""The several-user deployment of the README, as real processes: one `chroma run` server, two
`qa ui` processes behind a login (one machine: they share a home folder, so a catalog and its
lexical index), and a `qa ingest` from another home folder (another machine, or another user:
its own catalog). Eight users ask through the two chats while 200 articles are ingested.

What must hold: no request fails; every answer cites its own article first, with a quote that
is its article's text at the cited span; articles ingested elsewhere are found by both chats,
dense and lexical alike, within seconds of the ingest ending."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.load import load_paths
from tests.conftest import ROOT, free_port
from tests.corpus import Story, write_stories
from tests.test_processes import LIMIT, finish, qa, qa_env, start_ui

LOGIN = ("desk", "correct horse battery staple")
ARTIFACTS = ROOT / "test-artifacts"  # the figures of the last run (deployment.json)
USERS = 8


@pytest.fixture()
def deployment(chroma_server: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    collection = "desk" + str(free_port())
    common = {"QA_CHROMA_URL": chroma_server, "QA_COLLECTION": collection}
    app_env = qa_env(**common, HOME=str(tmp_path / "home-app"), QA_UI_USER=LOGIN[0],
                     QA_UI_PASSWORD=LOGIN[1], GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
    ingest_env = qa_env(**common, HOME=str(tmp_path / "home-ingest"))
    first = write_stories(tmp_path / "first", range(40))
    code, out, err = finish(qa("ingest", str(tmp_path / "first"), "-q", env=ingest_env))
    assert code == 0, out + err
    uis: list[Any] = []
    try:
        for i in range(2):
            uis.append(start_ui(env=app_env, log=tmp_path / f"ui{i}.log", timeout=180))
        yield {"urls": [u for _, u in uis], "ingest_env": ingest_env, "first": first}
    finally:
        for proc, _ in uis:
            proc.terminate()
        for proc, _ in uis:
            try:
                proc.wait(timeout=30)
            except Exception:  # noqa: BLE001
                proc.kill()


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, auth=LOGIN, verbose=False)


def _texts(paths: list[Path]) -> dict[str, str]:
    """The stored text of each article, as the ingester builds it (citations index into it)."""
    loaded, failed = load_paths(paths)
    assert not failed
    return {la.article.article_id: la.article.text for la in loaded}


def _check(ans: dict[str, Any], story: Story, article_id: str, texts: dict[str, str]) -> str:
    """'' when the answer cites `article_id` first, verbatim; else what is wrong."""
    if ans["refused"] or not ans["citations"]:
        return f"refused: {story.question}"
    first = ans["citations"][0]
    if first["article_id"] != article_id or story.person not in ans["text"]:
        return f"{story.question} -> {first['article_id']}: {ans['text'][:80]}"
    for c in ans["citations"]:
        text = texts.get(c["article_id"])
        if text is None or text[c["start"] : c["end"]] != c["quote"]:
            return f"citation not verbatim: {c['quote']!r} of {c['article_id']}"
    return ""


def test_eight_users_ask_two_chats_while_another_machine_ingests_200_articles(
        deployment: dict[str, Any], tmp_path: Path) -> None:
    urls = deployment["urls"]
    first = {str(p.resolve()): s for p, s in deployment["first"].items()}
    texts = _texts([tmp_path / "first"])
    later_files = write_stories(tmp_path / "later", range(40, 240))
    later = {str(p.resolve()): s for p, s in later_files.items()}
    texts.update(_texts([tmp_path / "later"]))

    stop = threading.Event()
    problems: list[str] = []
    answered = [0] * USERS

    def user(k: int) -> None:
        rng = random.Random(k)
        client = _client(urls[k % 2])
        while not stop.is_set():
            aid = rng.choice(sorted(first))
            try:
                ans = dict(client.predict(first[aid].question, [], api_name="/ask"))
            except Exception as e:  # noqa: BLE001 - any failed request is a finding
                problems.append(f"user {k}: {type(e).__name__}: {e}")
                continue
            wrong = _check(ans, first[aid], aid, texts)
            if wrong:
                problems.append(f"user {k}: {wrong}")
            answered[k] += 1

    threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(USERS)]
    for t in threads:
        t.start()
    writer = qa("ingest", str(tmp_path / "later"), "-q", env=deployment["ingest_env"])
    code, out, err = finish(writer, timeout=LIMIT)
    ended = time.monotonic()
    assert code == 0 and "200 added" in out, out + err

    # what the other machine ingested is found by both chats within seconds (the users still
    # asking), then the rest of the probes, dense and lexical alike
    probes = sorted(later)[::25]
    clients = [_client(u) for u in urls]
    waited = []
    for client in clients:
        aid = probes[-1]
        while True:
            ans = dict(client.predict(later[aid].question, [], api_name="/ask"))
            wrong = _check(ans, later[aid], aid, texts)
            if not wrong:
                break
            assert time.monotonic() - ended < 20, wrong
            time.sleep(0.2)
        waited.append(time.monotonic() - ended)
    for aid in probes:
        for client in clients:
            ans = dict(client.predict(later[aid].question, [], api_name="/ask"))
            assert not _check(ans, later[aid], aid, texts), _check(ans, later[aid], aid, texts)
            # lexically too: the town's name alone, a word only this article has
            ans = dict(client.predict(later[aid].town, [], api_name="/ask"))
            assert any(p["article_id"] == aid for p in ans["passages"]), later[aid].town
    stop.set()
    for t in threads:
        t.join(timeout=120)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "deployment.json").write_text(json.dumps(
        {"answers_per_user": answered, "seconds_until_found_after_ingest": waited,
         "problems": problems[:20]}, indent=2))
    assert not problems, f"{len(problems)} problems: {problems[:5]}"
    assert min(answered) >= 2, answered  # every user was served throughout
    assert max(waited) < 20, waited
