"""Check a gold file against the articles it was written for, before anyone scores with it.

    python -m eval.gold_check eval/gold/bbc_train.jsonl --corpus ../shared/corpora/bbc-news/news

Every problem is printed as `id: what is wrong`; the exit code is 1 when there is any.
What is checked, beyond what `load_gold` already refuses:
- `kind` is one of KINDS; a follow-up has a history, a single question has none;
- an answerable case has evidence and key facts; each evidence `doc` is a file of the corpus
  (by base name) and its `quote` is in that file, verbatim after `normalise`;
- every key-fact group has an alternative inside one of the case's evidence quotes, so an
  answer quoting the evidence can contain it;
- an unanswerable case has no key facts and no evidence;
- no two cases ask the same question after the same history.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from eval.gold import GoldCase, load_gold, normalise

KINDS = frozenset({
    "single",        # one fact, asked in words of the asker's own
    "definition",    # "Who is X?" / "What is X?"
    "why",           # a stated reason or cause
    "how",           # a manner, a process, an outcome
    "number",        # an amount, a count, a share, an age
    "date",          # when
    "changed",       # the articles give different values over time; both are expected
    "followup",      # leans on the history (a pronoun, an ellipsis)
    "multi",         # the answer needs two articles
    "unanswerable",  # the articles do not say (most: near misses on a covered subject)
})
TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")


def corpus_files(roots: Iterable[str | Path]) -> dict[str, Path]:
    """Base name -> file, for every article file under the roots."""
    out: dict[str, Path] = {}
    for root in roots:
        r = Path(root)
        files = [r] if r.is_file() else [p for p in r.rglob("*") if p.suffix in TEXT_SUFFIXES]
        for p in files:
            out.setdefault(p.name, p)
    return out


def problems(cases: Sequence[GoldCase], files: dict[str, Path]) -> list[str]:
    """Everything wrong with `cases` against the corpus `files` (see the module docstring)."""
    texts: dict[str, str] = {}

    def text(doc: str) -> str | None:
        if doc not in files:
            return None
        if doc not in texts:
            texts[doc] = normalise(files[doc].read_text(encoding="utf-8", errors="replace"))
        return texts[doc]

    out: list[str] = []
    seen: dict[tuple[tuple[str, ...], str], str] = {}
    for c in cases:
        say = lambda msg, c=c: out.append(f"{c.id}: {msg}")
        if c.kind not in KINDS:
            say(f"kind {c.kind!r} is not one of {', '.join(sorted(KINDS))}")
        if c.kind == "followup" and not c.history:
            say("a followup needs the earlier question(s) in 'history'")
        if c.kind != "followup" and c.history and c.answerable:
            say("a case with a history should have kind 'followup'")
        key = (tuple(normalise(h) for h in c.history), normalise(c.question))
        if key in seen:
            say(f"same question and history as {seen[key]}")
        seen[key] = c.id
        if not c.answerable:
            if c.must_include or c.evidence:
                say("an unanswerable case has no must_include and no evidence")
            if c.kind not in ("unanswerable", "followup"):
                say("an unanswerable case has kind 'unanswerable' (or 'followup')")
            continue
        if not c.evidence:
            say("an answerable case needs at least one evidence quote")
        if not c.must_include:
            say("an answerable case needs at least one must_include group")
        quotes = []
        for ev in c.evidence:
            t = text(ev.doc)
            if t is None:
                say(f"evidence doc {ev.doc!r} is not a file of the corpus (use the base name)")
                continue
            q = normalise(ev.quote)
            if q not in t:
                say(f"quote not found verbatim in {ev.doc}: {ev.quote[:90]!r}")
            quotes.append(q)
        for group in c.must_include:
            if quotes and not any(normalise(alt) in q for alt in group for q in quotes):
                say(f"no alternative of must_include group {list(group)} is in an evidence quote")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.gold_check", description=__doc__.splitlines()[0])
    p.add_argument("gold", nargs="+", help="gold JSONL file(s)")
    p.add_argument("--corpus", action="append", required=True,
                   help="folder (or file) of the articles the cases were written for (repeatable)")
    args = p.parse_args(argv)
    files = corpus_files(args.corpus)
    bad = 0
    for g in args.gold:
        cases = load_gold(g)
        found = problems(cases, files)
        for line in found:
            print(f"{g}: {line}")
        bad += len(found)
        kinds: dict[str, int] = {}
        for c in cases:
            kinds[c.kind] = kinds.get(c.kind, 0) + 1
        unans = sum(not c.answerable for c in cases)
        print(f"{g}: {len(cases)} cases ({unans} unanswerable); kinds "
              + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
              + f"; {len(found)} problem(s)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
