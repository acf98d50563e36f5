"""Gold cases: typed rows read from a JSONL gold file, and the text normalisation metrics share.

One JSON object per line:

    {"id": "dev-01", "kind": "single", "history": [], "question": "...", "answer": "...",
     "answerable": true, "must_include": [["streamline"], ["medical records", "good faith"]],
     "evidence": [{"doc": "000_382f65cea364c986.txt", "quote": "verbatim words ..."}]}

`must_include` is a list of groups; a group is matched when any one of its strings appears in
the answer (case-insensitively). `evidence` quotes are matched after `normalise`.

    >>> cases = load_gold("eval/gold.jsonl")                    # doctest: +SKIP
    >>> normalise("It’s  “done” — now…")
    'it\\'s "done" - now...'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import InputError

FOLD = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "–": "-", "—": "-", "‒": "-", "―": "-", "−": "-",
    "…": "...",
})
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Fold curly quotes, dashes and the ellipsis to ASCII, collapse whitespace, lower-case."""
    return _SPACE.sub(" ", (text or "").translate(FOLD)).strip().lower()


@dataclass(frozen=True)
class Evidence:
    """A verbatim quote from the gold document `doc` (a file name, or an article id)."""

    doc: str
    quote: str


@dataclass(frozen=True)
class GoldCase:
    """One gold question; `history` holds the earlier user turns of its conversation."""

    id: str
    kind: str
    history: tuple[str, ...]
    question: str
    answer: str
    answerable: bool
    must_include: tuple[tuple[str, ...], ...]
    evidence: tuple[Evidence, ...]


def load_gold(path: str | Path) -> list[GoldCase]:
    """Read a JSONL gold file; raises InputError naming the file, line and field at fault."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Gold file {p} does not exist; pass an existing JSONL file with --gold.")
    cases: list[GoldCase] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p}, line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        case = _case(row, where)
        if case.id in seen:
            raise InputError(f"{where}: id {case.id!r} is already used on line {seen[case.id]}; "
                             "gold ids must be unique")
        seen[case.id] = n
        cases.append(case)
    if not cases:
        raise InputError(f"Gold file {p} holds no cases (one JSON object per line expected).")
    return cases


def _case(row: dict[str, Any], where: str) -> GoldCase:
    def need(name: str, kind: type, label: str) -> Any:
        if name not in row:
            raise InputError(f"{where}: missing field {name!r} ({label})")
        value = row[name]
        if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
            raise InputError(f"{where}: field {name!r} must be {label}, got {value!r}")
        return value

    cid = need("id", str, "a non-empty string")
    question = need("question", str, "a non-empty string")
    answerable = need("answerable", bool, "true or false")
    kind = row.get("kind", "single")
    if not isinstance(kind, str) or not kind:
        raise InputError(f"{where}: field 'kind' must be a non-empty string, got {kind!r}")
    answer = row.get("answer", "")
    if not isinstance(answer, str):
        raise InputError(f"{where}: field 'answer' must be a string, got {answer!r}")
    history = row.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise InputError(f"{where}: field 'history' must be a list of earlier questions (strings)")
    groups = row.get("must_include", [])
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and g and all(isinstance(s, str) and s for s in g) for g in groups
    ):
        raise InputError(
            f"{where}: field 'must_include' must be a list of groups, each a non-empty list of "
            'strings, e.g. [["Liman"], ["denied", "rejected"]]'
        )
    ev_rows = row.get("evidence", [])
    if not isinstance(ev_rows, list):
        raise InputError(f"{where}: field 'evidence' must be a list of {{doc, quote}} objects")
    evidence: list[Evidence] = []
    for i, e in enumerate(ev_rows):
        if not isinstance(e, dict) or not isinstance(e.get("quote"), str) or not e["quote"].strip():
            raise InputError(f"{where}: evidence[{i}] needs a non-empty 'quote' string")
        doc = e.get("doc", "")
        if not isinstance(doc, str):
            raise InputError(f"{where}: evidence[{i}].doc must be a string (a file name)")
        evidence.append(Evidence(doc=doc, quote=e["quote"]))
    if answerable and not groups and not evidence:
        raise InputError(f"{where}: an answerable case needs 'must_include' or 'evidence' "
                         "to be scored against")
    return GoldCase(
        id=cid, kind=kind, history=tuple(history), question=question, answer=answer,
        answerable=answerable, must_include=tuple(tuple(g) for g in groups),
        evidence=tuple(evidence),
    )
