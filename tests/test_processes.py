"""Several real processes on one store: no vector is ever lost (issue: two writers of one
embedded store silently destroyed 631 of 3,000 vectors, for good).

- two `qa ingest` runs at once, 1,500+ passages each (past Chroma's 1,000-write index sync);
- a `qa ui` running while `qa ingest` writes from a terminal, then a browser upload;
- `qa ingest` killed with SIGKILL at ten random moments of a re-ingest, the store checked
  through the API after each kill.
Each ends with `qa check` passing and every article's own question citing it first.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port
from tests.corpus import SMALL_CHUNKS, Story, one_big_file, write_stories

LIMIT = 420  # seconds for one CLI process on a busy 2-core machine


def qa_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    return {**env, **SMALL_CHUNKS, "ANONYMIZED_TELEMETRY": "False",
            "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **extra}


def qa(*args: str, env: Mapping[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kw}
    return subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=ROOT,
                            env=dict(env or qa_env()), text=True, stdin=subprocess.DEVNULL, **kw)


def finish(p: subprocess.Popen[str], timeout: float = LIMIT) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def run_qa(*args: str, **kw: Any) -> tuple[int, str, str]:
    return finish(qa(*args, **kw))


def assert_each_cites_its_own(store: Path, stories: Mapping[str, Story], embedder: Any) -> None:
    """`qa check` passes, then every story's question cites that story first (via the API)."""
    code, out, err = run_qa("check", "--store", str(store))
    assert code == 0, out + err
    from qa import Assistant, Settings

    with Assistant.open(Settings(store_path=str(store), chunk_tokens=32, chunk_overlap=0),
                        embedder=embedder) as bot:
        stored = {i.meta.article_id for i in bot.articles()}
        assert set(stories) <= stored
        wrong = []
        for aid, s in stories.items():
            ans = bot.ask(s.question)
            first = ans.citations[0].article.article_id if ans.citations else "(refused)"
            if first != aid or s.person not in ans.text:
                wrong.append((s.question, first))
        assert not wrong, f"{len(wrong)} of {len(stories)} not cited first: {wrong[:5]}"


def ids_of(written: Mapping[Path, Story]) -> dict[str, Story]:
    return {str(p.resolve()): s for p, s in written.items()}


# -- two writers --------------------------------------------------------------------------------
def test_two_concurrent_ingests_both_succeed_and_lose_nothing(tmp_path: Path, embedder: Any
                                                              ) -> None:
    a = write_stories(tmp_path / "a", range(360))
    b = write_stories(tmp_path / "b", range(360, 720))
    store = tmp_path / "store"
    first = qa("ingest", str(tmp_path / "a"), "--store", str(store), "-q")
    time.sleep(1.0)  # the first one is starting (or has started) writing
    second = qa("ingest", str(tmp_path / "b"), "--store", str(store), "-q")
    c1, out1, err1 = finish(first)
    c2, out2, err2 = finish(second)
    assert c1 == 0 and "360 added" in out1, out1 + err1
    assert c2 == 0 and "360 added" in out2, out2 + err2
    for out in (out1, out2):  # each writer alone passes Chroma's 1,000-write index sync
        assert sum(int(line.rsplit("(", 1)[1].split()[0]) for line in out.splitlines()
                   if line.strip().startswith("added")) >= 1500
    # one of them waited for the other, and said whom it waited for
    waited = [(err, other) for err, other in ((err1, first), (err2, second)) if "waiting" in err]
    assert len(waited) == 1, (err1, err2)
    err, me = waited[0]
    other = second if me is first else first
    assert f"PID {other.pid}" in err and "qa" in err
    assert_each_cites_its_own(store, {**ids_of(a), **ids_of(b)}, embedder)


def test_a_busy_store_is_a_clear_error_when_waiting_is_off(tmp_path: Path) -> None:
    write_stories(tmp_path / "a", range(120))
    store = tmp_path / "store"
    holder = qa("ingest", str(tmp_path / "a"), "--store", str(store), "-q")
    try:
        deadline = time.monotonic() + 60
        while not (store / ".qa-owner.json").exists():  # the holder has the store open
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.05)
        code, _out, err = run_qa("articles", "--store", str(store),
                                env=qa_env(QA_STORE_WAIT="0"))
        assert code == 1
        assert f"PID {holder.pid}" in err and "qa serve" in err and "QA_STORE_WAIT" in err
        assert "Traceback" not in err
    finally:
        finish(holder)


# -- a running chat and a terminal ---------------------------------------------------------------
def start_ui(*args: str, env: Mapping[str, str], log: Path,
             timeout: float = 120) -> tuple[Any, str]:
    """`qa ui ARGS` on a free port, once its page answers: (process, url).

    Its output goes to the file `log`, not to a pipe: a server's pipe that nobody reads fills
    up (64 KB) and then blocks the server at its next write.
    """
    port = free_port()
    with open(log, "wb") as out:
        # Ctrl-C reaches it as in a terminal, even when this test runs as a background job
        # (which starts with SIGINT ignored, and children inherit that)
        proc = qa("ui", *args, "--port", str(port), env=env, stdout=out, stderr=subprocess.STDOUT,
                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"qa ui exited with {proc.returncode}: {log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"qa ui did not start in {timeout:.0f} s: {log.read_text()[-4000:]}")
        time.sleep(0.3)


def stop_ui(proc: subprocess.Popen[str], log: Path, timeout: float = 60,
            how: signal.Signals = signal.SIGINT) -> None:
    """Ctrl-C (or `how`); still running `timeout` s later fails the test, with every stack."""
    proc.send_signal(how)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # `qa` dumps every thread's stack into its output
        time.sleep(3)
        proc.kill()
        proc.wait()
        pytest.fail(f"qa ui did not stop within {timeout:.0f} s of {how.name}; its output and "
                    f"threads:\n{log.read_text()[-20000:]}")


@pytest.fixture()
def ui_process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`qa ui` as a real process on a free port over an empty store."""
    store = tmp_path / "store"
    gradio_tmp = tmp_path / "gradio-tmp"
    log = tmp_path / "ui.log"
    proc, url = start_ui("--store", str(store), log=log,
                         env=qa_env(GRADIO_TEMP_DIR=str(gradio_tmp)))
    try:
        yield {"url": url, "store": store, "proc": proc, "gradio_tmp": gradio_tmp, "log": log}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_stopped_chat_stops_the_stores_server_and_frees_the_store(tmp_path: Path) -> None:
    """`kill` (SIGTERM, as systemd or docker stop it) is a clean stop, like Ctrl-C; `kill -USR1`
    shows what it is doing and leaves it running."""
    from index.owner import read_owner
    from index.server import heartbeat

    store, log = tmp_path / "store", tmp_path / "ui.log"
    for how in (signal.SIGTERM, signal.SIGINT):
        proc, _url = start_ui("--store", str(store), log=log, env=qa_env())
        owner = read_owner(store)
        assert owner is not None and owner.pid == proc.pid and heartbeat(owner.server_url)
        if how == signal.SIGTERM:  # `kill -USR1` prints every thread's stack and stops nothing
            proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while "Current thread" not in log.read_text():  # the main thread's stack
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            time.sleep(0.5)  # the rest of the dump
            assert "most recent call first" in log.read_text() and proc.poll() is None
        stop_ui(proc, log, how=how)
        assert proc.returncode == 0, (how.name, log.read_text()[-3000:])
        assert not heartbeat(owner.server_url)  # the Chroma server it ran is stopped
        assert read_owner(store) is None and not (store / ".qa-owner.json").exists()
        code, out, err = run_qa("articles", "--store", str(store), env=qa_env(QA_STORE_WAIT="0"))
        assert code == 0, out + err  # the store is free at once


def ask_ui(url: str, question: str) -> dict[str, Any]:
    from gradio_client import Client

    return dict(Client(url, verbose=False).predict(question, [], api_name="/ask"))


@pytest.mark.browser
def test_cli_ingest_beside_a_running_chat_then_a_browser_upload(
        ui_process: dict[str, Any], tmp_path: Path, embedder: Any) -> None:
    url, store = ui_process["url"], ui_process["store"]
    cli = write_stories(tmp_path / "cli", range(240))  # about 1,000 passages
    writer = qa("ingest", str(tmp_path / "cli"), "--store", str(store), "-q")
    # questions are answered while the terminal's ingest runs, not after it
    answered_during = False
    while writer.poll() is None:
        try:
            ans = ask_ui(url, "Who is the harbour master?")
            answered_during = answered_during or writer.poll() is None
            assert "text" in ans
        except Exception as e:  # noqa: BLE001 - nothing is stored yet: an empty-store error
            assert "No articles" in str(e), e
            answered_during = answered_during or writer.poll() is None
        time.sleep(0.5)
    code, out, err = finish(writer)
    assert code == 0 and "240 added" in out, out + err
    assert "waiting" not in err  # it shared the store through the chat's server
    assert answered_during
    # the running chat sees what the terminal ingested, dense and lexical alike, within 5 s
    probe = next(iter(cli.values()))
    deadline = time.monotonic() + 5
    while True:
        ans = ask_ui(url, probe.question)
        if not ans["refused"] and probe.person in ans["text"]:
            break
        assert time.monotonic() < deadline, ans
        time.sleep(0.2)

    # then a 1,000+ passage upload in the browser
    upload = tmp_path / "upload" / "wire.jsonl"
    upload.parent.mkdir()
    uploaded = one_big_file(upload, range(240, 510))  # about 1,150 passages
    from playwright.sync_api import sync_playwright

    from tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = b.new_context(viewport={"width": 1400, "height": 950}).new_page()
        pg.goto(url)
        pg.get_by_role("tab", name="Library").click()
        pg.locator("#qa-upload").wait_for(state="visible")
        for attempt in range(3):
            pg.set_input_files("#qa-upload input[type=file]", [str(upload)])
            try:
                pg.wait_for_function("() => document.querySelector('#qa-upload').innerText"
                                     ".includes('wire.jsonl')", timeout=10_000)
                break
            except Exception:
                if attempt == 2:
                    raise
        pg.click("#qa-ingest")
        pg.wait_for_function(
            "() => document.querySelector('#qa-report').innerText.includes('270 added')",
            timeout=LIMIT * 1000)
        b.close()
    # our copy is kept (it is the article's file); Gradio's temporary copy is gone
    assert (store / "uploads" / "wire.jsonl").exists()
    assert not list(ui_process["gradio_tmp"].rglob("wire.jsonl"))
    stop_ui(ui_process["proc"], ui_process["log"])
    # questions asked before anything was stored were told so, not logged as crashes
    assert "Traceback" not in ui_process["log"].read_text()
    assert_each_cites_its_own(store, {**ids_of(cli), **uploaded}, embedder)


# -- kill -9 at any moment -------------------------------------------------------------------------
def test_sigkill_at_ten_random_moments_of_a_reingest_leaves_a_consistent_store(
        tmp_path: Path, embedder: Any) -> None:
    from qa import Assistant, Settings

    folder = tmp_path / "in"
    store = tmp_path / "store"
    stories = write_stories(folder, range(160))
    code, out, err = run_qa("ingest", str(folder), "--store", str(store), "-q")
    assert code == 0, out + err
    settings = Settings(store_path=str(store), chunk_tokens=32, chunk_overlap=0)
    rng = random.Random(11)
    t0 = time.monotonic()
    code, _, _ = run_qa("ingest", str(folder), "--store", str(store), "-q")  # nothing to do
    startup = time.monotonic() - t0
    # how long a whole re-ingest takes on this machine: the kills land within it
    write_stories(folder, range(160), variant=99)
    t0 = time.monotonic()
    code, out, err = run_qa("ingest", str(folder), "--store", str(store), "-q")
    assert code == 0, out + err
    work = max(0.5, time.monotonic() - t0 - startup)
    kills = 0
    for round_ in range(1, 11):
        stories = write_stories(folder, range(160), variant=round_)  # every text changes
        p = qa("ingest", str(folder), "--store", str(store), "-q")
        time.sleep(startup + rng.uniform(0.0, 0.9 * work))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait(timeout=LIMIT)
        with Assistant.open(settings, embedder=embedder) as bot:  # a crash is no damage
            infos = bot.articles()
            for info in infos:  # every listed article is findable, with its whole text
                rec = bot.store.records_by_id([info.meta.article_id])[info.meta.article_id]
                chunks = bot.store.chunks_of(info.meta.article_id, rec.content_hash)
                assert len(chunks) == info.n_chunks > 0, info.meta.article_id
                text = bot.article_text(info.meta.article_id)
                assert all(text[c.start : c.end] == c.text for c in chunks)
            for s in rng.sample(list(stories.values()), 12):
                ans = bot.ask(s.question)
                for c in ans.citations:
                    assert bot.article_text(c.article.article_id)[c.start : c.end] == c.quote
    assert kills >= 7, f"only {kills} of 10 runs were killed mid-way"
    code, out, err = run_qa("ingest", str(folder), "--store", str(store), "-q")
    assert code == 0, out + err
    assert_each_cites_its_own(store, ids_of(stories), embedder)
