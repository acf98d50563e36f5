"""The `qa` command: ingest, ask, articles, delete, chat, and its errors and exit codes.

Subprocess runs (`python -m cli`) exercise the real entry point end to end; in-process runs of
`cli.main` share the session's embedder so the model is not loaded once per test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import qa.api
from cli import main as qa_main
from qa.terminal import cut
from tests.conftest import ROOT, make_bot

LIMIT = 240  # seconds for one CLI subprocess on a busy 2-core machine


def run_cli(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env.update(ANONYMIZED_TELEMETRY="False", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], check=False, cwd=ROOT, env=env, input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=LIMIT,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> str:
    """A store holding the sample articles, ingested by a real `qa ingest` process."""
    path = str(tmp_path_factory.mktemp("cli") / "store")
    r = run_cli(["ingest", str(sample_dir), "--store", path, "-q"])
    assert r.returncode == 0, r.stderr
    assert "3 added, 0 updated, 0 unchanged, 0 duplicate, 0 pruned, 0 failed" in r.stdout
    for name in ("000_382f65cea364c986.txt", "001_aaba62a0722ea775.txt", "002_dce03cdb09bb98a3.txt"):
        assert re.search(rf"added +{re.escape(str(sample_dir / name))} \(\d+ chunks\)", r.stdout)
    return path


@pytest.fixture(autouse=True)
def _shared_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Any) -> None:
    monkeypatch.setattr(qa.api, "make_embedder", lambda backend, **kw: embedder)


def test_ingest_again_changes_nothing(store: str, sample_dir: Path) -> None:
    r = run_cli(["ingest", str(sample_dir), "--store", store, "-q"])
    assert r.returncode == 0, r.stderr
    assert "0 added, 0 updated, 3 unchanged" in r.stdout


def test_ask_prints_a_cited_answer(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["ask", "Which judge denied Baldoni's motion?", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "Liman" in out and "[1]" in out
    assert re.search(r"^\[\d\] .+\n    “.*Liman.*”\n    .+001_aaba62a0722ea775\.txt chars \d+-\d+$",
                     out, re.MULTILINE), out
    assert "(extractive, " in out


def test_ask_words_are_joined(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["ask", "How", "much", "is", "Baldoni's", "countersuit", "for?",
                    "--store", store]) == 0
    assert "400" in capsys.readouterr().out


def test_ask_with_history_and_stream(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = qa_main(["ask", "What did he say about the Vanzan lawsuit?", "--history",
                    "Who is Baldoni's lawyer?", "--stream", "--store", store])
    assert code == 0
    out = capsys.readouterr().out
    # the follow-up is answered about the lawyer's words on the suit ("sham"), with its source
    assert "sham" in out and "[1]" in out and "chars " in out


def test_ask_refuses_what_the_articles_do_not_say(store: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["ask", "What is the capital of Australia?", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "The articles don't say." in out and "Closest passages" in out
    assert "[1]" not in out


def test_articles_lists_the_store(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["articles", "--store", store]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split() == ["id", "date", "source", "passages", "title"]
    assert len(lines) == 5
    assert "Daily Mail" in out and "Fox News Digital" in out
    assert "/" not in "".join(ln.split()[0] for ln in lines[1:4])  # short ids, not paths
    assert str(Path(store).parent) not in out and ".txt" not in out
    m = re.search(r"^3 articles, (\d+) passages ", out, re.MULTILINE)
    counts = [int(re.findall(r"\s(\d+)\s", ln)[-1]) for ln in lines[1:4]]
    assert m and int(m.group(1)) == sum(counts)
    # a title that does not fit is cut at a word boundary, with an ellipsis
    assert cut("Blake Lively drops her claims", 20) == "Blake Lively drops…"
    assert cut("Short title", 20) == "Short title"

    assert qa_main(["articles", "--json", "--store", store]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 3 and all(r["file"].endswith(".txt") for r in records)
    assert {r["short_id"] for r in records} == {ln.split()[0] for ln in lines[1:4]}
    assert sum(r["passages"] for r in records) == int(m.group(1))


def test_help_shows_each_command_its_own_options(capsys: pytest.CaptureFixture[str]) -> None:
    helps = {}
    for cmd in ("articles", "delete", "ask", "ingest"):
        with pytest.raises(SystemExit):
            qa_main([cmd, "--help"])
        helps[cmd] = capsys.readouterr().out
    for cmd in ("articles", "delete"):
        assert "--store" in helps[cmd]
        assert "--top-k" not in helps[cmd] and "--threshold" not in helps[cmd]
        assert "--chunk-tokens" not in helps[cmd]
    assert "--top-k" in helps["ask"] and "--chunk-tokens" not in helps["ask"]
    assert "--chunk-tokens" in helps["ingest"] and "--top-k" not in helps["ingest"]
    assert "--history" in helps["ask"] and "one question" in helps["ask"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        qa_main(["--version"])
    assert e.value.code == 0
    assert re.fullmatch(r"qa \(article-qa\) \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_two_quoted_questions_are_a_usage_error_that_says_what_to_do(
        store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["ask", "Who is Baldoni's lawyer?", "What did he say?", "--store", store]) == 2
    err = capsys.readouterr().err
    assert "takes one question, and got 2" in err
    assert 'qa ask --history "Who is Baldoni\'s lawyer?" "What did he say?"' in err


def test_ask_on_an_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = str(tmp_path / "empty")
    assert qa_main(["ask", "Why did Lively drop the distress claim?", "--store", empty]) == 1
    err = capsys.readouterr().err
    assert "No articles are indexed in" in err and "Ingest some first" in err
    assert "qa ingest data/articles/" in err
    assert qa_main(["articles", "--store", empty]) == 0
    assert "No articles in" in capsys.readouterr().out


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_a_clear_error(store: str, question: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["ask", question, "--store", store]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The question is empty")
    assert "Traceback" not in err


def test_too_long_question(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["ask", "why " * 400, "--store", store]) == 1
    assert "QA_MAX_QUESTION_CHARS" in capsys.readouterr().err


def test_bad_setting_is_exit_1_with_the_field(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["ask", "Who is the judge?", "--store", store, "--top-k", "0"]) == 1
    assert "top_k must be between 1 and 100" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["ask"], ["frobnicate"]):
        with pytest.raises(SystemExit) as e:
            qa_main(argv)
        assert e.value.code == 2
    capsys.readouterr()


def test_delete(tmp_path: Path, embedder: Any, capsys: pytest.CaptureFixture[str],
                sample_dir: Path) -> None:
    bot = make_bot(tmp_path, embedder)
    bot.ingest([sample_dir / "001_aaba62a0722ea775.txt"])
    [info] = bot.articles()
    store = bot.settings.store_path
    assert qa_main(["delete", "no-such-id", "--store", store]) == 1
    assert "not stored: no-such-id" in capsys.readouterr().err
    assert qa_main(["delete", info.meta.article_id, "--store", store]) == 0
    assert qa_main(["articles", "--store", store]) == 0
    assert "No articles in" in capsys.readouterr().out
    # by the short id `qa articles` shows
    bot.ingest([sample_dir / "001_aaba62a0722ea775.txt"])
    [info] = bot.articles()
    bot.close()
    assert qa_main(["articles", "--store", store]) == 0
    shown = capsys.readouterr().out.splitlines()[1].split()[0]
    assert len(shown) == 8 and shown != info.meta.article_id
    assert qa_main(["delete", shown, "--store", store]) == 0
    assert qa_main(["articles", "--store", store]) == 0
    assert "No articles in" in capsys.readouterr().out


def test_chat_answers_a_follow_up(store: str) -> None:
    r = run_cli(["chat", "--store", store],
                stdin="Who is Baldoni's lawyer?\nWhat did he say about the Vanzan lawsuit?\n\n")
    assert r.returncode == 0, r.stderr
    turns = r.stdout.split("\n> ")
    assert len(turns) == 4, r.stdout  # banner, two answers, the empty line that ends the chat
    assert "Freedman" in turns[1]
    assert "sham" in turns[2]
    assert re.search(r"\[1\].*\n    “.*”\n", turns[2])
    assert "Traceback" not in r.stderr


def test_chat_ends_on_eof_and_reports_errors(store: str) -> None:
    r = run_cli(["chat", "--store", store], stdin="/clear\n" + "x" * 1200 + "\n")
    assert r.returncode == 0, r.stderr
    assert "error: The question is 1200 characters long" in r.stderr
