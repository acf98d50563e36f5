"""The layering holds: the doors (cli.py, ui.py, eval/) above qa/ above index/; no cycles.

The import-linter contracts live in pyproject.toml ([tool.importlinter]); import-linter reads
packages only, so the two top-level door modules get an AST check of their own here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=300)


def test_import_contracts_are_kept():
    r = _run("-c", "import sys; from importlinter.cli import lint_imports_command as c; "
                   "sys.argv = ['lint-imports', '--no-cache']; c()")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "3 kept, 0 broken" in out, out


def test_the_index_layer_loads_without_qa():
    """The issue's own check: importing the ingestion path pulls in nothing from qa/."""
    r = _run("-c", "import index.ingest, index.repair, index.health, sys; "
                   "bad = sorted(m for m in sys.modules if m == 'qa' or m.startswith('qa.')); "
                   "assert not bad, bad")
    assert r.returncode == 0, r.stderr


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):  # every import, lazy ones inside functions included
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_browser_door_does_not_import_the_command_line_door():
    # cli.py dispatches `qa ui` to ui.py; the other way round would be a cycle between doors
    assert "cli" not in _imported(ROOT / "ui.py")
    assert {"qa", "gradio"} <= _imported(ROOT / "ui.py")  # the walk sees the imports at all
