"""PDF -> the article's text, where each page starts in it, and the document's metadata.

Reading the characters is the reader library's job (pypdfium2, PDFium's text layer, chosen by
measurement: bench/pdf_readers.py; pypdf is kept there as the comparison). What PDF layout adds
and prose does not have is undone here, deterministically:
- running headers and footers: a line at the top or bottom of a page that recurs (digits aside,
  so "Page 3 of 9" counts) on most pages is furniture, not article text; so is a bare page number;
- line breaks inside paragraphs: lines are joined back into paragraphs (a paragraph ends at a
  line that ends a sentence well short of the page's usual line width, or at a short heading);
  a paragraph that runs over a page break is joined too;
- words broken at a line end: a soft hyphen always joins; a "-" joins when the next line starts
  in lower case, unless the document writes that word with its hyphen elsewhere ("well-known").

Nothing else is rewritten: the words are the PDF's, so a quote cited from the text is the PDF's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.clean import clean_text

PAGE_MARK = "\ue000"  # a private-use character: where a page starts, until offsets are taken
EDGE_LINES = 3  # header/footer lines are looked for among a page's first and last three lines
FURNITURE_SHARE = 0.6  # a line on at least this share of pages (and at least two) is furniture
MIN_CHARS_PER_PAGE = 20  # under this on average, the PDF has no usable text layer
_SOFT = ("\u00ad", "\x02")  # soft hyphen (PDFium reports it as \x02)
_HYPHENS = ("-", "\u2010")  # a line-end hyphen as drawn (Chromium draws a soft one as U+2010)
_DROP_SOFT = str.maketrans("", "", "".join(_SOFT))
_END = re.compile(r"[.!?:;\"'”’)\]]$")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—(\[]?\s*\d{1,4}\s*(?:of\s+\d{1,4})?\s*[-–—)\]]?$",
                          re.IGNORECASE)
_NOT_TITLES = re.compile(r"^(?:untitled|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|odt|"
                         r"rtf|txt|html?|indd|qxd))$", re.IGNORECASE)


class PdfProblem(Exception):
    """The PDF cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class PdfDocument:
    pages: tuple[str, ...]  # each page's text as the reader gives it (lines kept)
    title: str = ""
    author: str = ""
    date: str = ""  # ISO date, from the document's creation date


# -- readers --------------------------------------------------------------------------------
def read_pdf(data: bytes) -> PdfDocument:
    """The pages and metadata of a PDF (pypdfium2), or PdfProblem."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        msg = str(e).lower()
        if "password" in msg:
            raise PdfProblem("the PDF is encrypted (password protected); open it and save or "
                             "print an unprotected copy, then add that") from None
        raise PdfProblem(f"cannot be read as a PDF ({e}); the file is damaged or not a PDF: "
                         "download or export it again") from None
    try:
        pages = tuple(_page_text(pdf, i) for i in range(len(pdf)))
        md = pdf.get_metadata_dict(skip_empty=True)
    finally:
        pdf.close()
    return PdfDocument(pages, title=_title(md.get("Title", "")), author=_one_line(
        md.get("Author", "")), date=pdf_date(md.get("CreationDate", "")))


def _page_text(pdf: object, i: int) -> str:
    page = pdf[i]  # type: ignore[index]
    try:
        tp = page.get_textpage()
        try:
            return str(tp.get_text_range())
        finally:
            tp.close()
    finally:
        page.close()


def pdf_date(value: str) -> str:
    """'D:20260412093000+02'00'' -> '2026-04-12'; '' when it is not a PDF date."""
    m = re.match(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?", value.strip())
    if not m:
        return ""
    y, mo, d = m[1], m[2] or "01", m[3] or "01"
    if not ("1900" <= y <= "2200" and "01" <= mo <= "12" and "01" <= d <= "31"):
        return ""
    return f"{y}-{mo}-{d}"


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def _title(value: str) -> str:
    """The metadata title, unless it is a tool's placeholder or a file name."""
    t = _one_line(value)
    return "" if not t or _NOT_TITLES.match(t) else t


# -- text -----------------------------------------------------------------------------------
def _lines(page: str) -> list[str]:
    """The page's lines, spaces collapsed; soft hyphens kept only where a line breaks."""
    out = []
    text = page.replace("\r\n", "\n").replace("\r", "\n").replace(PAGE_MARK, "")
    for ln in text.split("\n"):
        ln = " ".join(ln.split())
        soft = ln.endswith(_SOFT)
        ln = ln.translate(_DROP_SOFT)
        out.append(ln + "\u00ad" if soft and ln else ln)
    return out


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _furniture(pages: list[list[str]]) -> set[str]:
    """Shapes of lines that recur at the top or bottom of most pages."""
    if len(pages) < 2:
        return set()
    seen: dict[str, int] = {}
    for lines in pages:
        body = [ln for ln in lines if ln]
        edge = {_shape(ln) for ln in body[:EDGE_LINES] + body[-EDGE_LINES:]}
        for s in edge:
            seen[s] = seen.get(s, 0) + 1
    need = max(2, round(FURNITURE_SHARE * len(pages)))
    return {s for s, n in seen.items() if n >= need}


def _strip_edges(lines: list[str], furniture: set[str]) -> list[str]:
    body = [ln for ln in lines if ln]
    top, bottom = 0, len(body)
    while top < min(EDGE_LINES, bottom) and (_shape(body[top]) in furniture
                                             or _PAGE_NUMBER.match(body[top])):
        top += 1
    while bottom > max(top, len(body) - EDGE_LINES) and (
            _shape(body[bottom - 1]) in furniture or _PAGE_NUMBER.match(body[bottom - 1])):
        bottom -= 1
    return body[top:bottom]


def _join(a: str, b: str, hyphenated: set[str]) -> str:
    """Line `a` followed by line `b` within one paragraph (`b` may start with page marks)."""
    word = b.lstrip(PAGE_MARK)
    if a.endswith(_SOFT):
        return a[:-1] + b
    if a.endswith(_HYPHENS) and len(a) > 1 and a[-2].isalpha() and word[:1].islower():
        head = re.search(r"(\w+)[-\u2010]$", a)
        tail = re.match(r"\w+", word)
        if head and tail and f"{head[1]}-{tail[0]}".lower() not in hyphenated:
            return a[:-1] + b
        return a + b
    return a + " " + b


def pdf_text(pages: list[str] | tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
    """(stored text, where each page starts in it) from the pages' raw text. Paragraphs are
    separated by a blank line; the text then goes through `clean_text` like every format's (page
    marks ride through it, so the offsets are those of the cleaned text). A page with no text
    left starts where the next page's text does."""
    split = [_lines(p) for p in pages]
    furniture = _furniture(split)
    bodies = [_strip_edges(lines, furniture) for lines in split]
    widths = [len(ln) for lines in bodies for ln in lines]
    usual = _full_width(widths)
    whole = " ".join(ln for lines in bodies for ln in lines)
    hyphenated = {m.lower() for m in re.findall(r"\w+-\w+", whole)}

    paras: list[str] = []
    current = ""
    marks = 0  # pages begun whose text has not come yet
    pages_begun = 0
    flat = [(k, line) for k, lines in enumerate(bodies) for line in lines]
    for n, (k, line) in enumerate(flat):
        marks += k + 1 - pages_begun
        pages_begun = k + 1
        if marks:
            line = PAGE_MARK * marks + line
            marks = 0
        current = _join(current, line, hyphenated) if current else line
        after = flat[n + 1][1] if n + 1 < len(flat) else ""
        if _ends_paragraph(line.lstrip(PAGE_MARK), after, usual):
            paras.append(current)
            current = ""
    if current:
        paras.append(current)
    marks += len(bodies) - pages_begun
    marked = "\n\n".join(paras) + PAGE_MARK * marks
    return _take_marks(clean_text(marked), len(pages))


def _full_width(widths: list[int]) -> float:
    """The width of a full line (most lines of a paragraph run to it): the 90th percentile."""
    if not widths:
        return 0.0
    ordered = sorted(widths)
    return float(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))])


def _ends_paragraph(line: str, after: str, usual: float) -> bool:
    """Whether a paragraph ends with `line`: one that ends a sentence well short of the usual
    width, or a short line (a heading) — unless the next line goes on in lower case."""
    if not line or not after:
        return True
    if after[:1].islower():
        return False
    short = len(line) < 0.8 * usual
    return short and (bool(_END.search(line)) or len(line) < 0.5 * usual)


def _take_marks(text: str, n_pages: int) -> tuple[str, tuple[int, ...]]:
    starts: list[int] = []
    out: list[str] = []
    pos = 0
    for piece in re.split(f"({PAGE_MARK})", text):
        if piece == PAGE_MARK:
            starts.append(pos)
        else:
            out.append(piece)
            pos += len(piece)
    clean = "".join(out)
    starts = (starts + [len(clean)] * n_pages)[:n_pages]
    return clean, tuple(starts)
