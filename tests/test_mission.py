"""The product's promise on the shipped sample, through the Python API and the `qa` command.

"Why did Lively drop the distress claim?" must be answered first with a sentence that gives the
reason (the Daily Mail's "to streamline the dispute" or Fox News's "because they are no longer
necessary"), cited at its exact span; a question the articles do not cover must be refused with
the fixed message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from qa.extractive import REFUSAL_TEXT

ROOT = Path(__file__).resolve().parents[1]
MISSION = "Why did Lively drop the distress claim?"
REASONS = ("streamline the dispute", "no longer necessary")


def test_mission_question_cites_the_streamline_sentence(sample_bot: Any) -> None:
    ans = sample_bot.ask(MISSION)
    assert not ans.refused
    # the articles give the reason in two places: "to streamline the dispute" (Daily Mail) and
    # "because they are no longer necessary" (Fox News); the answer leads with one of them
    first = ans.citations[0]
    assert any(r in first.quote for r in REASONS), [c.quote for c in ans.citations]
    c = first
    assert f"[{c.number}]" in ans.text
    assert sample_bot.store.article_text(c.article.article_id)[c.start : c.end] == c.quote
    # Markers are numbered in order of first use, from 1, with nothing skipped.
    assert [c.number for c in ans.citations] == list(range(1, len(ans.citations) + 1))


def test_a_question_the_articles_do_not_cover_is_refused(sample_bot: Any) -> None:
    ans = sample_bot.ask("What is the boiling point of mercury?")
    assert ans.refused and ans.text.startswith(REFUSAL_TEXT[:20]) and not ans.citations


def test_readme_command_one_answers_the_mission_question(tmp_path: Path, sample_dir: Path) -> None:
    """What `make run` does before opening the chat: ingest the sample, then `qa ask`."""
    env = {**os.environ, "QA_STORE_PATH": str(tmp_path / "store")}
    qa = [sys.executable, "-m", "cli"]
    ing = subprocess.run([*qa, "ingest", str(sample_dir)], check=False, env=env, capture_output=True,
                         text=True, timeout=600, cwd=ROOT)
    assert ing.returncode == 0, ing.stdout + ing.stderr
    ask = subprocess.run([*qa, "ask", MISSION], check=False, env=env, capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert ask.returncode == 0, ask.stderr
    assert any(r in ask.stdout for r in REASONS) and "[1]" in ask.stdout, ask.stdout
