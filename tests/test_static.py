"""The code passes its own static checks: ruff (the rules in pyproject.toml) and mypy over the
packages. Run here so a type or lint error fails the suite, not a later reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=600)


def test_ruff_finds_nothing() -> None:
    r = _run("ruff", "check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_finds_nothing_in_the_packages() -> None:
    r = _run("mypy", "--cache-dir", "/dev/null", "index", "qa", "eval")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success" in r.stdout
