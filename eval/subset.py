"""A small corpus for a gold set over a large one: the fast CI gate runs on it.

The subset holds every article a gold case cites as evidence, the articles that mention the
names an unanswerable question asks about (so a near miss stays a near miss: the subject is
there, the asked fact is not), and `n_other` more articles picked by a fixed hash order (so
retrieval still has to find the right one among many). Files are linked, not copied, into
`out_dir` (the corpus may not be copied into the project, and need not be).

    >>> subset_corpus("eval/gold/bbc_check.jsonl", "../shared/corpora/bbc-news/news",
    ...               "/tmp/bbc-subset")                                  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from eval.gold import load_gold
from qa.errors import InputError

_NAME = re.compile(r"\b[A-Z][\w'&.-]*[\w](?:\s+[A-Z][\w'&.-]*[\w])*")
_QWORDS = frozenset(("What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How",
                     "Did", "Does", "Do", "Is", "Was", "Are", "Were", "Has", "Have", "Had", "Will",
                     "Would", "Can", "Could", "In", "On", "At", "For", "The", "A", "An"))


def _names(question: str) -> list[str]:
    out = []
    for m in _NAME.finditer(question):
        words = [w for w in m.group().split() if w not in _QWORDS]
        if words:
            out.append(" ".join(words))
    return out


def subset_corpus(gold: str | Path, corpus: str | Path, out_dir: str | Path,
                  n_other: int = 300, per_question: int = 5) -> Path:
    """Link the subset's files into `out_dir` (created; its category folders kept); returns it."""
    root = Path(corpus)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".txt", ".md"))
    if not files:
        raise InputError(f"No .txt or .md article under {root}; pass the corpus folder")
    by_name = {p.name: p for p in files}
    chosen: dict[Path, None] = {}
    texts: dict[Path, str] = {}

    def text(p: Path) -> str:
        if p not in texts:
            texts[p] = p.read_text(encoding="utf-8", errors="replace")
        return texts[p]

    for case in load_gold(gold):
        for ev in case.evidence:
            if ev.doc in by_name:
                chosen[by_name[ev.doc]] = None
        if not case.answerable:
            names = _names(case.question)
            if names:
                hits = [p for p in files if all(n in text(p) for n in names)]
                for p in hits[:per_question]:
                    chosen[p] = None
    rest = sorted((p for p in files if p not in chosen),
                  key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
    for p in rest[:n_other]:
        chosen[p] = None
    out = Path(out_dir)
    for p in chosen:
        dest = out / p.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.symlink_to(p.resolve())
    return out
