"""Synthetic news-like articles for the tests that need volume (concurrent writers, kills,
damaged stores): each article names a unique town and person, so its own question has one
right answer, and the test can check that the answer cites that article first.

With `SMALL_CHUNKS` (32 tokens, no overlap) an article is about five passages, so 300 articles
pass Chroma's 1,000-write index sync (where concurrent writers used to destroy vectors) while
embedding stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SMALL_CHUNKS = {"QA_CHUNK_TOKENS": "32", "QA_CHUNK_OVERLAP": "0"}
_HEADS = ["Var", "Quel", "Bram", "Tors", "Hal", "Mir", "Oster", "Dun", "Kel", "Fen", "Ross",
          "Ulm", "Wex", "Yarn", "Zel", "Pell", "Corr", "Gant", "Lisk", "Nor", "Ebb", "Thal",
          "Sorn", "Rav", "Iss", "Jor", "Arn", "Bex", "Cull", "Dray"]
_TAILS = ["holt", "by", "wick", "mere", "stead", "ford", "ham", "ton", "dale", "combe", "thorpe",
          "wold", "bury", "gate", "moor", "haven", "field", "ness", "cliff", "wood", "brook",
          "marsh", "side", "well", "worth", "ley", "stow", "hurst", "croft", "den"]
_FIRST = ["Amara", "Tomas", "Ilse", "Kofi", "Lena", "Ravi", "Odile", "Piet", "Sana", "Bruno",
          "Greta", "Idris", "Maren", "Nils", "Paloma", "Quinn", "Rosa", "Soren", "Talia", "Umar"]
_LAST = ["Quist", "Reyne", "Varga", "Mensah", "Broch", "Anand", "Lindqvist", "Okafor", "Castell",
         "Duarte", "Ferreira", "Halloran", "Iwasaki", "Jovanovic", "Kowalczyk", "Lamarque",
         "Moreau", "Nakamura", "Ostrowski", "Petrakis", "Rinaldi", "Sandoval", "Tamsin"]
_ROLES = ["harbour master", "chief librarian", "fire chief", "museum director",
          "parks warden", "market inspector", "bridge engineer", "schools inspector"]


@dataclass(frozen=True)
class Story:
    """One synthetic article and the question only it answers."""

    town: str
    person: str
    role: str
    text: str
    question: str


def story(i: int, variant: int = 0) -> Story:
    """Article number `i` (unique town and person); `variant` changes its text, not its facts."""
    town = _HEADS[i % len(_HEADS)] + _TAILS[(i // len(_HEADS)) % len(_TAILS)]
    person = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i * 7) % len(_LAST)]}"
    role = _ROLES[i % len(_ROLES)]
    prev = f"{_FIRST[(i + 3) % len(_FIRST)]} {_LAST[(i * 7 + 5) % len(_LAST)]}"
    lines = [
        f"{town} names {person} as {role}",
        f"The council of {town} named {person} as its new {role} on Monday.",
        f"{person} replaces {prev}, who held the post for {3 + i % 9} years.",
        f"{town} lies on a river crossed by {2 + i % 7} old stone bridges.",
        f"Its weekly market has run since {1700 + i % 250} according to the town archive.",
        f"Residents of {town} said revision {variant} of the plan would be debated in spring.",
    ]
    return Story(town, person, role, "\n".join(lines) + "\n",
                 f"Who did the council of {town} name as its {role}?")


def write_stories(folder: Path, ids: Sequence[int], variant: int = 0,
                  prefix: str = "story") -> dict[Path, Story]:
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[Path, Story] = {}
    for i in ids:
        s = story(i, variant)
        p = folder / f"{prefix}_{i:04d}.txt"
        p.write_text(s.text, encoding="utf-8")
        out[p] = s
    return out


def one_big_file(path: Path, ids: Sequence[int], variant: int = 0) -> dict[str, Story]:
    """Many stories in one JSONL file (one article per record, each with its own URL)."""
    import json

    rows = []
    stories: dict[str, Story] = {}
    for i in ids:
        s = story(i, variant)
        url = f"https://news.example/{i:04d}"
        rows.append(json.dumps({"url": url, "title": s.text.split("\n", 1)[0], "text": s.text}))
        stories[url] = s
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return stories
