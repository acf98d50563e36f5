"""Real PDF and DOCX files, made in the test: Debian chromium prints HTML to PDF (its headless
print puts a running header — date and title — and a footer — the page's address and "n/N" — on
every page), python-docx writes DOCX, pypdf adds metadata or a password to a printed PDF."""

from __future__ import annotations

import html
import io
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"

# Three pages, each with its own facts; only page 3 says who will chair the inquiry.
PDF_TITLE = "Harbour Board annual report"
PDF_PAGES = (
    (
        ("The Harbour Board of Port Quellin met eleven times during the year and approved "
         "a new budget for dredging the eastern channel."),
        ("Freight through the port rose by a fifth, driven by timber shipments to the "
         "northern mills, and the board hired fourteen new pilots."),
    ),
    (
        ("The ferry to Tresk Island ran on 340 days; storms cancelled the rest. The board "
         "replaced the ferry's two engines in the spring at a cost of 2.4 million crowns."),
        ("Passenger numbers on the Tresk ferry reached 210,000, the highest since the "
         "route opened."),
    ),
    (
        ("After the collapse of the north pier in October, the board appointed the "
         "engineer Odalys Verhaegen to chair the independent inquiry into the collapse."),
        ("The inquiry will report to the board by the end of next March, and the north "
         "pier stays closed until it does."),
    ),
)
PDF_QUESTION = "Who will chair the inquiry into the pier collapse?"
PDF_ANSWER = "Odalys Verhaegen"


def article_html(title: str, pages: tuple[tuple[str, ...], ...]) -> str:
    body = []
    for i, paras in enumerate(pages):
        style = ' style="page-break-before: always"' if i else ""
        body += [f"<p{style if j == 0 else ''}>{html.escape(p)}</p>" for j, p in enumerate(paras)]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
            + "".join(body) + "</body></html>")


def print_pdf(page_html: str, out: Path) -> Path:
    """`page_html` printed to `out` by chromium (with its header and footer on every page)."""
    src = out.with_suffix(".html")
    src.write_text(page_html, encoding="utf-8")
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--print-to-pdf={out}", src.as_uri()], check=True, capture_output=True,
                   timeout=120)
    src.unlink()
    return out


def harbour_pdf(out: Path) -> Path:
    return print_pdf(article_html(PDF_TITLE, PDF_PAGES), out)


def rewrite_pdf(src: Path, out: Path, *, metadata: dict[str, str] | None = None,
                password: str = "") -> Path:
    """A copy of `src` with metadata added, or encrypted with `password` (pypdf)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(src.read_bytes())))
    if metadata:
        writer.add_metadata(metadata)
    if password:
        writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    with out.open("wb") as f:
        writer.write(f)
    return out


def blank_pdf(out: Path, pages: int = 2) -> Path:
    """Pages with no text layer at all (what a scan without OCR looks like to a reader)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    with out.open("wb") as f:
        writer.write(f)
    return out


DOCX_TITLE = "Council press release: the Millbrook library"
DOCX_PARAS = (
    ("The council will reopen the Millbrook library on 2 June after a two-year "
     "rebuild."),
    ("The new building has a roof garden and a children's wing named after the author "
     "Ines Tavistock, who grew up on the estate."),
)
DOCX_HEADER = "EMBARGOED UNTIL 09:00 — Millbrook Borough Council"


def press_release_docx(out: Path, *, author: str = "Press Office") -> Path:
    import datetime as dt

    import docx

    d = docx.Document()
    d.core_properties.title = DOCX_TITLE
    d.core_properties.author = author
    d.core_properties.created = dt.datetime(2025, 5, 20, 9, 0)
    d.sections[0].header.paragraphs[0].text = DOCX_HEADER
    d.sections[0].footer.paragraphs[0].text = "Page 1 — press@millbrook.example"
    d.add_heading(DOCX_TITLE, level=1)
    for p in DOCX_PARAS:
        d.add_paragraph(p)
    table = d.add_table(rows=2, cols=2)
    for r, (a, b) in enumerate((("Opening day", "2 June"), ("Cost", "6.1 million pounds"))):
        table.rows[r].cells[0].text = a
        table.rows[r].cells[1].text = b
    d.save(str(out))
    return out
