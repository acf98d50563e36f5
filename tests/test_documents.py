"""PDF and DOCX sources: real files made in the test (chromium print-to-PDF, python-docx), read
into the stored text with their pages, metadata and clear per-file errors, then ingested and
answered by the real `qa` command with the page in the citation."""

from __future__ import annotations

import re
from pathlib import Path

from index.load import load_file
from tests.documents import (
    DOCX_HEADER,
    DOCX_PARAS,
    DOCX_TITLE,
    PDF_ANSWER,
    PDF_PAGES,
    PDF_QUESTION,
    PDF_TITLE,
    blank_pdf,
    harbour_pdf,
    press_release_docx,
    rewrite_pdf,
)
from tests.test_cli import run_cli

LIMIT = 10_000_000


def load_one(path: Path):  # type: ignore[no-untyped-def]
    ok, failed = load_file(path, LIMIT)
    assert failed == [] and len(ok) == 1, failed
    return ok[0].article


def test_pdf_text_keeps_the_article_and_drops_headers_footers_on_every_page(tmp_path: Path
                                                                             ) -> None:
    a = load_one(harbour_pdf(tmp_path / "harbour.pdf"))
    text = a.text
    for paras in PDF_PAGES:
        for p in paras:
            assert p in text  # every sentence whole, in reading order, words unbroken
    order = [text.index(paras[0]) for paras in PDF_PAGES]
    assert order == sorted(order)
    # chromium's running header (date, title) and footer (address, "n/3") are on all 3 pages
    assert text.count(PDF_TITLE) == 1  # the heading on page 1 only
    assert "file://" not in text and not re.search(r"\b[123]/3\b", text)
    assert not re.search(r"\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2}", text)
    # where each page starts, and the page of any offset
    assert len(a.meta.pages) == 3 and a.meta.pages[0] == 0
    assert text[a.meta.pages[1]:].startswith(PDF_PAGES[1][0])
    assert text[a.meta.pages[2]:].startswith(PDF_PAGES[2][0])
    assert a.meta.page_at(text.index(PDF_ANSWER)) == 3
    assert a.meta.page_at(text.index("eleven times")) == 1
    assert a.meta.title == PDF_TITLE  # the document's own title (chromium sets it)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", a.meta.date)


def test_pdf_metadata_gives_title_author_and_date(tmp_path: Path) -> None:
    src = harbour_pdf(tmp_path / "plain.pdf")
    pdf = rewrite_pdf(src, tmp_path / "meta.pdf", metadata={
        "/Title": "Annual report 2025", "/Author": "Harbour Board secretariat",
        "/CreationDate": "D:20250314093000+01'00'"})
    meta = load_one(pdf).meta
    assert (meta.title, meta.author, meta.date) == (
        "Annual report 2025", "Harbour Board secretariat", "2025-03-14")
    # a tool's placeholder is not a title: the first line of the text is
    pdf = rewrite_pdf(src, tmp_path / "placeholder.pdf",
                      metadata={"/Title": "Microsoft Word - report_final_v2.docx"})
    assert load_one(pdf).meta.title == PDF_TITLE


def test_bad_pdfs_and_docx_fail_alone_with_what_to_do(tmp_path: Path) -> None:
    src = harbour_pdf(tmp_path / "ok.pdf")
    cases = {
        "locked.pdf": (rewrite_pdf(src, tmp_path / "locked.pdf", password="s3cret"),
                       "encrypted (password protected)"),
        "scan.pdf": (blank_pdf(tmp_path / "scan.pdf"), "no text layer"),
        "broken.pdf": (tmp_path / "broken.pdf", "cannot be read as a PDF"),
        "cut.pdf": (tmp_path / "cut.pdf", "cannot be read as a PDF"),
        "broken.docx": (tmp_path / "broken.docx", "cannot be read as a DOCX"),
        "old.docx": (tmp_path / "old.docx", "encrypted (password protected) or an old Word"),
    }
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n% nothing else")
    (tmp_path / "cut.pdf").write_bytes(src.read_bytes()[:600])  # a download cut short
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "old.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    for name, (path, why) in cases.items():
        ok, failed = load_file(path, LIMIT)
        assert ok == [] and len(failed) == 1, name
        assert why in failed[0].reason, (name, failed[0].reason)
        assert ";" in failed[0].reason, (name, "the reason says what to do")


def test_docx_body_in_order_without_header_footer_and_with_its_metadata(tmp_path: Path
                                                                         ) -> None:
    a = load_one(press_release_docx(tmp_path / "release.docx"))
    assert a.text.startswith(DOCX_TITLE)
    for p in DOCX_PARAS:
        assert p in a.text
    assert "Opening day | 2 June" in a.text and "Cost | 6.1 million pounds" in a.text
    assert DOCX_HEADER not in a.text and "press@millbrook" not in a.text
    assert (a.meta.title, a.meta.author, a.meta.date) == (DOCX_TITLE, "Press Office",
                                                          "2025-05-20")
    assert a.meta.pages == () and a.meta.page_at(10) is None


def test_qa_ingests_a_pdf_and_a_docx_and_cites_the_pdf_page(tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    harbour_pdf(folder / "harbour-report.pdf")
    press_release_docx(folder / "library-release.docx")
    store = str(tmp_path / "store")
    r = run_cli(["ingest", str(folder), "--store", store, "-q"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"added +\S*harbour-report\.pdf \(\d+ chunks\)", r.stdout), r.stdout
    assert re.search(r"added +\S*library-release\.docx \(\d+ chunks\)", r.stdout), r.stdout

    r = run_cli(["ask", PDF_QUESTION, "--store", store])
    assert r.returncode == 0, r.stderr
    assert PDF_ANSWER in r.stdout, r.stdout
    assert re.search(r"harbour-report\.pdf p\. 3 chars \d+-\d+", r.stdout), r.stdout

    r = run_cli(["ask", "When will the Millbrook library reopen?", "--store", store])
    assert r.returncode == 0 and "2 June" in r.stdout, r.stdout
    assert "library-release.docx chars" in r.stdout and " p. " not in r.stdout

    # a bad PDF beside them fails alone, says why, and changes nothing stored
    before = run_cli(["articles", "--store", store]).stdout
    (folder / "locked.pdf").write_bytes(
        rewrite_pdf(folder / "harbour-report.pdf", tmp_path / "locked.pdf",
                    password="x").read_bytes())
    r = run_cli(["ingest", str(folder), "--store", store, "-q"])
    assert r.returncode == 1
    assert re.search(r"failed +\S*locked\.pdf: the PDF is encrypted", r.stdout), r.stdout
    assert "0 added, 0 updated, 2 unchanged" in r.stdout
    assert run_cli(["articles", "--store", store]).stdout == before


def test_pages_and_byline_are_stored_and_survive_a_catalog_made_before_them(
        tmp_path: Path) -> None:
    import sqlite3

    from index.catalog import Catalog

    a = load_one(rewrite_pdf(harbour_pdf(tmp_path / "h.pdf"), tmp_path / "m.pdf",
                             metadata={"/Author": "Harbour Board secretariat"}))
    # a catalog file written before articles had a byline or pages
    old = tmp_path / "old.sqlite3"
    db = sqlite3.connect(old)
    db.executescript(
        "CREATE TABLE articles (article_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT"
        " NULL, url TEXT NOT NULL, date TEXT NOT NULL, path TEXT NOT NULL, content_hash TEXT NOT "
        "NULL, n_chunks INTEGER NOT NULL, text TEXT NOT NULL, updated REAL NOT NULL);"
        "INSERT INTO articles VALUES ('kept', 'Kept', 'Courier', '', '', '/k.txt', 'h', 1, "
        "'Kept text.', 0);")
    db.commit()
    db.close()
    cat = Catalog(old)
    try:
        kept, text = cat.article("kept") or (None, "")
        assert kept is not None and kept.meta.title == "Kept" and text == "Kept text."
        assert (kept.meta.author, kept.meta.pages) == ("", ())
        cat.put([(a, [])])
        got, _ = cat.article(a.article_id) or (None, "")
        assert got is not None and got.meta == a.meta  # byline and page starts included
        assert {c.meta.article_id for c in cat.articles()} == {"kept", a.article_id}
    finally:
        cat.close()


def test_the_store_keeps_pages_and_byline(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_bot

    pdf = rewrite_pdf(harbour_pdf(tmp_path / "h.pdf"), tmp_path / "report.pdf",
                      metadata={"/Author": "Harbour Board secretariat"})
    with make_bot(tmp_path / "store", embedder) as bot:
        bot.ingest([str(pdf)])
        ans = bot.ask(PDF_QUESTION)
        assert not ans.refused and ans.citations[0].page == 3
        assert ans.citations[0].article.author == "Harbour Board secretariat"
