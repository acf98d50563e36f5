"""Files -> cleaned `Article`s, with one failure row per file (or JSON record) that cannot be used.

Loading never raises for a bad file: ingestion reports every failure with a reason that says what
was wrong and how to fix it, and loads everything else. Every text goes through `index.clean`, so
the stored text (which citation offsets point into) does not depend on the file format.

Formats: .txt, .md/.markdown, .html/.htm (main text by trafilatura), .pdf (text layer by
pypdfium2, see index/pdf_text.py: citations carry the page), .docx (python-docx), .json (an
object, a list of objects, or {"articles": [...]}) and .jsonl (one object per line). A
`NAME.meta.json` sidecar beside file NAME overrides its title/source/url/date/author.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import trafilatura

from index.clean import clean_markdown, clean_text, markdown_heading
from index.docx_text import DocxProblem, read_docx
from index.pdf_text import MIN_CHARS_PER_PAGE, PdfProblem, pdf_text, read_pdf
from index.types import Article, ArticleMeta, FileResult

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl")
DOCUMENTS = (".pdf", ".docx")  # binary formats, read by their libraries
SIDECAR = ".meta.json"
TITLE_MAX = 200
SNIFF_BYTES = 8192  # how much of a file the binary check looks at
FIELDS: dict[str, tuple[str, ...]] = {  # JSON record fields; the first non-blank one wins
    "title": ("title", "headline"),
    "text": ("text", "body", "content", "article"),
    "url": ("url", "link"),
    "date": ("date", "published", "published_at", "publish_date"),
    "author": ("author", "byline"),
    "source": ("source", "publication", "site", "publisher"),
}
EMPTY = "empty: no text after clean-up"
PROSE_MIN_WORDS = 12  # a web page with less extracted text than this holds no article
PROSE_LINE_WORDS = 8  # ... nor one whose every line is shorter (a menu, a list of links)
KINDS = ", ".join(SUPPORTED)


@dataclass(frozen=True)
class LoadedArticle:
    """An article and where it came from: the file, plus `#N` for the N-th record of a JSON file."""

    article: Article
    path: str


class _Failure(Exception):
    """Internal: why one file or record cannot be loaded (becomes a FileResult reason)."""


def load_paths(
    paths: Sequence[str | Path], max_file_bytes: int = 20_000_000
) -> tuple[list[LoadedArticle], list[FileResult]]:
    """Load files and folders (walked recursively, sorted); the second list holds only failures.

    A file reached twice (named twice, or named and inside a named folder) is loaded once.
    """
    loaded: list[LoadedArticle] = []
    failed: list[FileResult] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if not str(given).strip() or not path.exists():
            failed.append(_failed(str(given), "no such file or folder; check the path"))
            continue
        files = _walk(path, failed) if path.is_dir() else [path]
        if path.is_dir() and not files:
            failed.append(_failed(str(given), "folder has no supported files (" + KINDS + ")"))
        for file in files:
            try:
                key = file.resolve()
            except (RuntimeError, OSError) as e:  # a symlink loop, an unreadable path
                failed.append(_failed(str(file), _path_problem(e)))
                continue
            if key in seen:
                continue
            seen.add(key)
            try:
                ok, bad = load_file(file, max_file_bytes)
            except Exception as e:
                log.exception("loading %s failed", file)
                ok, bad = [], [_failed(str(file), f"could not be loaded ({type(e).__name__}: "
                                                  f"{e}); please report this file")]
            loaded.extend(ok)
            failed.extend(bad)
    return loaded, failed


def _path_problem(e: BaseException) -> str:
    if isinstance(e, RuntimeError) or getattr(e, "errno", None) == errno.ELOOP:
        return "a symbolic link that loops back on itself; fix or remove the link"
    why = getattr(e, "strerror", None) or str(e)
    return f"cannot be read: {why}; check the path and its permissions"


def load_file(path: Path, max_file_bytes: int) -> tuple[list[LoadedArticle], list[FileResult]]:
    """Load one file: one article (txt/md/html), or one per record (json/jsonl)."""
    shown = str(path)
    try:
        data = _read_bytes(path, max_file_bytes)
        sidecar = _read_sidecar(path)
        ext = path.suffix.lower()
        if ext in DOCUMENTS:
            return [LoadedArticle(_load_binary(path, ext, data, sidecar), shown)], []
        text = _decode(data)
        if not text.strip():
            raise _Failure(EMPTY)
        if ext in (".json", ".jsonl"):
            return _load_records(path, text, sidecar)
        article = _load_document(path, ext, text, sidecar)
    except _Failure as e:
        return [], [_failed(shown, str(e))]
    return [LoadedArticle(article, shown)], []


def _walk(root: Path, failed: list[FileResult]) -> list[Path]:
    """Supported files under `root`, sorted; hidden entries and sidecars are skipped."""

    def on_error(err: OSError) -> None:
        failed.append(_failed(str(err.filename), f"cannot read folder: {err.strerror}"))

    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            low = name.lower()
            if name.startswith(".") or low.endswith(SIDECAR):
                continue
            if Path(low).suffix in SUPPORTED:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _read_bytes(path: Path, max_file_bytes: int) -> bytes:
    """The file's bytes, or a _Failure saying why it cannot be used."""
    if path.name.lower().endswith(SIDECAR):
        raise _Failure("this is a metadata sidecar, not an article; give the article file instead")
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise _Failure(f"unsupported file type {ext or '(no extension)'}; supported: {KINDS}")
    try:
        if not path.is_file():
            if path.is_symlink() and not path.exists():
                raise _Failure("a broken link: what it points to does not exist; fix or "
                               "remove the link")
            raise _Failure("not a regular file; give a file or a folder")
        size = path.stat().st_size
        if size > max_file_bytes:
            raise _Failure(f"file is {_size(size)}, over the {_size(max_file_bytes)} limit "
                           "(QA_MAX_FILE_BYTES); split the file or raise the limit")
        data = path.read_bytes()
    except FileNotFoundError:
        raise _Failure("no such file or folder (a broken link?); check the path") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _Failure(_path_problem(e)) from None
        raise _Failure(f"cannot read the file: {e.strerror}; check its permissions") from None
    if not data.strip():
        raise _Failure(EMPTY)
    return data


def _decode(data: bytes) -> str:
    """UTF-8 (a BOM is accepted and stripped); binary and other encodings are refused."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise _Failure("UTF-16 text; save it as UTF-8")
    head = data[:SNIFF_BYTES]
    controls = sum(1 for b in head if (b < 32 and b not in (9, 10, 12, 13)) or b == 127)
    if b"\x00" in head or controls > 0.1 * len(head):
        raise _Failure("binary file, not text; give a .txt, .md, .html or .json text file "
                       "(or a .pdf or .docx under its own name)")
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.start + bom
        raise _Failure(f"not UTF-8 text (invalid byte 0x{data[at]:02x} at offset {at}); "
                       "save it as UTF-8") from None


def _read_sidecar(path: Path) -> dict[str, str]:
    """title/source/url/date from `NAME.meta.json` beside the file, if there is one."""
    side = path.with_name(path.name + SIDECAR)
    if not side.is_file():
        return {}
    where = f"sidecar {side.name}"
    try:
        data = json.loads(_decode(side.read_bytes()))
    except (OSError, json.JSONDecodeError, _Failure) as e:
        why = _json_error(e) if isinstance(e, json.JSONDecodeError) else str(e)
        raise _Failure(f"{where}: {why}; fix or delete it") from None
    if not isinstance(data, dict):
        raise _Failure(f'{where} must be a JSON object such as {{"source": "Daily Mail"}}')
    out: dict[str, str] = {}
    for key, value in data.items():
        if key not in ("title", "source", "url", "date", "author"):
            log.warning("%s: ignoring unknown key %r (known: title, source, url, date, author)",
                        side, key)
        elif isinstance(value, str):
            if value.strip():
                out[key] = value.strip()
        elif value is not None:
            raise _Failure(f'{where}: "{key}" must be a string, not {_kind(value)}')
    return out


def _load_document(path: Path, ext: str, raw: str, sidecar: dict[str, str]) -> Article:
    """One article from a .txt, .md or .html file."""
    meta: dict[str, str] = {}
    if ext in (".md", ".markdown"):
        text = clean_markdown(raw)
        meta["title"] = markdown_heading(raw)
    elif ext in (".html", ".htm"):
        text, meta = _from_html(raw)
    else:
        text = clean_text(raw)
    if not text:
        raise _Failure(EMPTY)
    return _article(text, {**meta, **sidecar}, path.resolve(), "")


def _load_binary(path: Path, ext: str, data: bytes, sidecar: dict[str, str]) -> Article:
    """One article from a .pdf (with where each page starts) or a .docx."""
    pages: tuple[int, ...] = ()
    if ext == ".pdf":
        try:
            pdf = read_pdf(data)
        except PdfProblem as e:
            raise _Failure(str(e)) from None
        if sum(len(p.strip()) for p in pdf.pages) < MIN_CHARS_PER_PAGE * max(1, len(pdf.pages)):
            raise _Failure("the PDF has no text layer (a scan or images of pages); run it "
                           "through OCR (e.g. `ocrmypdf in.pdf out.pdf`) and add the result")
        text, pages = pdf_text(pdf.pages)
        found = {"title": pdf.title, "author": pdf.author, "date": pdf.date}
    else:
        try:
            doc = read_docx(data)
        except DocxProblem as e:
            raise _Failure(str(e)) from None
        text = clean_text(doc.text)
        found = {"title": doc.title, "author": doc.author, "date": doc.date}
    if not text.strip():
        raise _Failure(EMPTY)
    meta = {k: v for k, v in found.items() if v}
    return _article(text, {**meta, **sidecar}, path.resolve(), "", pages=pages)


def _from_html(html: str) -> tuple[str, dict[str, str]]:
    """Main text and metadata of a web page, both by trafilatura (never by our own regexes)."""
    try:
        body = trafilatura.extract(
            html, include_comments=False, include_tables=True, include_images=False,
            favor_recall=True, with_metadata=False, deduplicate=False,
        )
        doc = trafilatura.extract_metadata(html)
    except Exception as e:  # noqa: BLE001 - one page the parser chokes on must not stop the rest
        raise _Failure(f"could not parse the HTML ({type(e).__name__}: {e})") from None
    if not body or not _has_prose(body):
        raise _Failure("no article text found in the HTML (only navigation, links or short "
                       "labels); save the article page itself, or paste its text into a .txt "
                       "file")
    pairs = {"title": "title", "date": "date", "source": "sitename", "url": "url",
             "author": "author"}
    found = {key: getattr(doc, attr, None) for key, attr in pairs.items()}
    return clean_text(body), {k: v.strip() for k, v in found.items() if isinstance(v, str)}


def _has_prose(text: str) -> bool:
    """Whether extracted page text holds prose: a menu or a list of links is short lines only."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    return sum(map(len, lines)) >= PROSE_MIN_WORDS and any(
        len(ln) >= PROSE_LINE_WORDS for ln in lines)


def _load_records(
    path: Path, raw: str, sidecar: dict[str, str]
) -> tuple[list[LoadedArticle], list[FileResult]]:
    """One article per record of a .json/.jsonl file; a bad record fails alone."""
    shown = str(path)
    items = _jsonl_items(raw) if path.suffix.lower() == ".jsonl" else _json_items(raw)
    if len(items) > 1 and ("title" in sidecar or "url" in sidecar):
        log.warning("%s: sidecar title/url ignored: the file holds %d records", path, len(items))
        sidecar = {k: v for k, v in sidecar.items() if k not in ("title", "url")}
    loaded: list[LoadedArticle] = []
    failed: list[FileResult] = []
    resolved = path.resolve()
    for n, item in enumerate(items):
        where = f"{shown}#{n}"
        try:
            if isinstance(item, _Failure):
                raise item
            meta = _record_fields(item, n)
            text = clean_text(meta.pop("text"))
            if not text:
                raise _Failure(f"record {n} has no text: its text is empty after clean-up")
            loaded.append(LoadedArticle(_article(text, {**meta, **sidecar}, resolved, f"#{n}"),
                                        where))
        except _Failure as e:
            failed.append(_failed(where, str(e)))
    return loaded, failed


def _jsonl_items(raw: str) -> list[Any]:
    """One item per non-blank line; a malformed line becomes a _Failure item (fails alone)."""
    items: list[Any] = []
    for lineno, line in enumerate(raw.split("\n"), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as e:
                items.append(_Failure(f"invalid JSON at line {lineno}, column {e.colno}: {e.msg}"))
    return items


def _json_items(raw: str) -> list[Any]:
    """The records of a .json file: an object, a list, or an object with an "articles" list."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        hint = "; one object per line? name the file .jsonl" if e.msg == "Extra data" else ""
        raise _Failure(_json_error(e) + hint) from None
    if isinstance(data, dict) and "articles" in data:
        data = data["articles"]
        if not isinstance(data, list):
            raise _Failure(f'"articles" must be a list of objects, not {_kind(data)}')
    elif isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        raise _Failure('JSON must be an object, a list of objects or an object with an '
                       f'"articles" list, not {_kind(data)}')
    if not data:
        raise _Failure("empty: no records in the JSON; give an object with a text field")
    return data


def _record_fields(item: Any, n: int) -> dict[str, str]:
    """Title/text/url/date/source of one JSON record (first non-blank alias wins)."""
    if not isinstance(item, dict):
        raise _Failure(f"record {n} is {_kind(item)}, not an object with a text field")
    out: dict[str, str] = {}
    for key, names in FIELDS.items():
        for name in names:
            value = item.get(name)
            if key == "source" and isinstance(value, dict):  # {"source": {"name": "CNN"}}
                value = value.get("name")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not isinstance(value, str):
                raise _Failure(f'record {n}: "{name}" must be a string, not {_kind(value)}')
            out[key] = value if key == "text" else value.strip()
            break
    if "text" not in out:
        raise _Failure(f"record {n} has no text: give one of " + ", ".join(FIELDS["text"]))
    return out


def _article(text: str, meta: dict[str, str], resolved: Path, suffix: str,
             pages: tuple[int, ...] = ()) -> Article:
    """The Article: id = url, else resolved path (+ `#N`); hash = sha256 of the stored text."""
    url = meta.get("url", "")
    title = meta.get("title") or _first_line_title(text)
    return Article(
        meta=ArticleMeta(
            article_id=url or f"{resolved}{suffix}",
            title=_trim(title),
            source=meta.get("source", ""),
            url=url,
            date=_norm_date(meta.get("date", "")),
            path=str(resolved),
            author=_trim(meta.get("author", "")),
            pages=pages,
        ),
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def _first_line_title(text: str) -> str:
    """The first non-blank line; when it is a whole lead paragraph too long for a title, its
    first sentence (if that fits), rather than a cut in the middle of the second."""
    line = " ".join(next((ln for ln in text.split("\n") if ln.strip()), "").split())
    if len(line) <= TITLE_MAX:
        return line
    from index.chunk import split_sentences

    spans = split_sentences(line)
    if len(spans) > 1 and spans[0][1] - spans[0][0] <= TITLE_MAX:
        return line[spans[0][0] : spans[0][1]]
    return line


def _trim(title: str, limit: int = TITLE_MAX) -> str:
    """Title on one line, at most `limit` characters, cut at a word boundary with "…"."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def _norm_date(value: str) -> str:
    """ISO YYYY-MM-DD when the value parses as a date (ISO 8601 or RFC 2822), else as given."""
    s = value.strip()
    if not s:
        return ""
    try:
        return datetime.fromisoformat(s).date().isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(s).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return s


def _json_error(e: json.JSONDecodeError) -> str:
    return f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else "a number")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _failed(path: str, reason: str) -> FileResult:
    log.info("cannot load %s: %s", path, reason)
    return FileResult(path=path, status="failed", reason=reason)
