"""Which PDF reader: pypdf or pypdfium2, measured on real article text printed to PDF.

    .venv/bin/python bench/pdf_readers.py [--n 20]

Each article (BBC corpus by path when present, else the sample articles) is laid out as HTML
with a running header and a "Page X of Y" footer on every page, long words given soft hyphens so
lines break inside them, and printed to PDF by Debian chromium. Each reader's text, after our PDF
clean-up (index/pdf_text.py: repeated header/footer lines dropped, hyphenated words joined), is
compared with the article's own words:
  - word accuracy: difflib ratio between the article's words and the extracted words;
  - furniture: header/footer lines left in the text (lower is better);
  - broken words: a word cut by a line-break hyphen and not joined back;
  - ms/page: extraction time (the reader alone, median over the files).
"""

from __future__ import annotations

import argparse
import difflib
import html
import itertools
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.pdf_text import pdf_text, read_pdf


def pages_pypdfium2(data: bytes) -> list[str]:
    """The reader ingestion uses (index/pdf_text.read_pdf)."""
    return list(read_pdf(data).pages)


def pages_pypdf(data: bytes) -> list[str]:
    """The comparison: pypdf, which llama-index's PDF reader uses."""
    import io

    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages]

BBC = ROOT.parent / "shared" / "corpora" / "bbc-news" / "news"
HEADER = "The Example Courier — Archive copy"


def articles(n: int) -> list[tuple[str, str]]:
    files = sorted(BBC.glob("*/*.txt"))[:: max(1, len(list(BBC.glob("*/*.txt"))) // n)][:n] \
        if BBC.is_dir() else sorted((ROOT / "data" / "articles").glob("*.txt"))
    out = []
    for f in files:
        lines = f.read_text(encoding="utf-8", errors="replace").strip().split("\n")
        out.append((lines[0].strip(), "\n".join(lines[1:]).strip()))
    return out


def shy(text: str) -> str:
    """Soft hyphens in long words, so the printed lines break (and hyphenate) inside them."""
    return re.sub(r"\b([A-Za-z]{5})([a-z]{4,})\b", lambda m: m[1] + "\u00ad" + m[2], text)


def page_html(title: str, body: str) -> str:
    paras = "".join(f"<p>{shy(html.escape(p))}</p>" for p in body.split("\n") if p.strip())
    return (f"<html lang='en'><head><title>{html.escape(title)}</title><style>"
            "body{font-family:serif;font-size:13pt;width:11cm;text-align:justify}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{paras}</body></html>")


def print_pdfs(arts: list[tuple[str, str]], folder: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page()
        for i, (title, body) in enumerate(arts):
            page.set_content(page_html(title, body))
            path = folder / f"a{i:03}.pdf"
            page.pdf(path=str(path), format="A5", display_header_footer=True,
                     margin={"top": "2cm", "bottom": "2cm", "left": "1.5cm", "right": "1.5cm"},
                     header_template=f"<div style='font-size:9px;width:100%;text-align:center'>"
                                     f"{HEADER}</div>",
                     footer_template="<div style='font-size:9px;width:100%;text-align:center'>"
                                     "Page <span class='pageNumber'></span> of "
                                     "<span class='totalPages'></span></div>")
            out.append(path)
        browser.close()
    return out


def measure(name: str, reader, pdfs: list[Path], arts: list[tuple[str, str]]) -> dict:
    acc, furniture, broken, ms, pages = [], 0, 0, [], 0
    for path, (title, body) in zip(pdfs, arts):
        t = time.perf_counter()
        raw_pages = reader(path.read_bytes())
        ms.append((time.perf_counter() - t) * 1000 / max(1, len(raw_pages)))
        pages += len(raw_pages)
        text, _ = pdf_text(raw_pages)
        want = (title + " " + body).split()
        got = text.split()
        acc.append(difflib.SequenceMatcher(None, want, got, autojunk=False).ratio())
        furniture += text.count(HEADER) + len(re.findall(r"Page \d+ of \d+", text))
        wanted = set(want)
        broken += sum(1 for a, b in itertools.pairwise(got)
                      if len(a) > 1 and a.endswith(("-", "\u2010")) and (a[:-1] + b) in wanted)
    return {"reader": name, "files": len(pdfs), "pages": pages,
            "word accuracy": statistics.mean(acc), "furniture left": furniture,
            "broken words": broken, "ms/page p50": statistics.median(ms)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    arts = articles(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = print_pdfs(arts, Path(tmp))
        rows = [measure("pypdfium2", pages_pypdfium2, pdfs, arts),
                measure("pypdf", pages_pypdf, pdfs, arts)]
    print("| reader | files | pages | word accuracy | furniture left | broken words | ms/page p50 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['reader']} | {r['files']} | {r['pages']} | {r['word accuracy']:.4f} | "
              f"{r['furniture left']} | {r['broken words']} | {r['ms/page p50']:.1f} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    raise SystemExit(main())
