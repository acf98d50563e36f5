"""Split gold cases into `train` (fitting and calibration) and `check` (never used for either).

    python -m eval.gold_split DRAFT.jsonl [DRAFT.jsonl ...] --prefix eval/gold/bbc

writes PREFIX_train.jsonl and PREFIX_check.jsonl. The split is by a hash of the case id, within
each kind, so it is stable (re-running it gives the same split), balanced across kinds, and does
not depend on the order of the cases or on anything a model did with them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

CHECK_SHARE = 0.5


def _key(case_id: str) -> str:
    return hashlib.sha256(f"article-qa split 1 {case_id}".encode()).hexdigest()


def split(rows: list[dict[str, Any]], check_share: float = CHECK_SHARE
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, check): in each kind, the cases whose hash sorts first go to check."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    check_ids: set[str] = set()
    for cases in by_kind.values():
        cases.sort(key=lambda r: _key(r["id"]))
        n = round(len(cases) * check_share)
        check_ids |= {r["id"] for r in cases[:n]}
    train = [r for r in rows if r["id"] not in check_ids]
    check = [r for r in rows if r["id"] in check_ids]
    return train, check


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.gold_split", description=__doc__.splitlines()[0])
    p.add_argument("drafts", nargs="+")
    p.add_argument("--prefix", required=True, help="output prefix, e.g. eval/gold/bbc")
    args = p.parse_args(argv)
    rows = [json.loads(line) for d in args.drafts
            for line in Path(d).read_text(encoding="utf-8").splitlines() if line.strip()]
    train, check = split(rows)
    for name, part in (("train", train), ("check", check)):
        out = Path(f"{args.prefix}_{name}.jsonl")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part),
                       encoding="utf-8")
        print(f"{out}: {len(part)} cases ({sum(not r['answerable'] for r in part)} unanswerable)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
