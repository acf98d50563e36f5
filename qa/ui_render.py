r"""Pure rendering for the browser chat: answers, citations and passages to safe markdown/HTML.

Everything that comes from an article or an answer is *text*: it is escaped here before it is
put inside markdown (the chat bubbles) or HTML (the sources panel, the library tables), so an
article containing `<script>` or `<img onerror=...>` shows those characters and runs nothing.
No Gradio import: `ui.py` wires these functions to components, tests call them directly.

    escape_answer_md("<b>x</b> [1]")  ->  r"\<b\>x\</b\> [1]"   (shown as: <b>x</b> [1])
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qa.types import Answer, ArticleInfo, ArticleMeta, Citation, IngestReport, Passage

ArticleTextFn = Callable[[str], str]

# Inline characters the chat's markdown renderer (marked + HTML) would interpret.
_MD_INLINE = re.compile(r"([\\`*_~\[\]<>&|])")
# Line starts that would become headings, quotes, lists or rules.
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))", re.MULTILINE)
# An [n] marker that the escaper turned into \[n\]; left alone when it could become a link.
_ESCAPED_MARKER = re.compile(r"\\\[(\d{1,3})\\\](?![(:])")
MARKER = re.compile(r"\[(\d{1,3})\]")

SNIPPET_CHARS = 160


@dataclass(frozen=True)
class ChatTurn:
    """One question of a browser session and what came back (kept in per-session state)."""

    question: str
    history: tuple[str, ...] = ()  # the earlier user questions it was asked with
    requested_mode: str = "extractive"  # "extractive" | "llm"
    answer: Answer | None = None
    partial: str = ""  # text streamed so far, before the final Answer arrives
    error: str = ""  # why there is no answer (e.g. the LLM failed)
    llm_failed: bool = False  # the error is an LLM failure: offer the extractive answer
    scope: str = ""  # the search filter it was asked under, in words ("" = all articles)

    @property
    def refused_in_scope(self) -> bool:
        """Refused while a filter was set: the other articles may say (offer to search them)."""
        return bool(self.scope and self.answer is not None and self.answer.refused)

    @property
    def fell_back(self) -> bool:
        """An LLM answer was asked for and an extractive one came back instead."""
        return (
            self.answer is not None
            and self.requested_mode == "llm"
            and not self.answer.mode.startswith("llm")
        )


def escape_md(text: str) -> str:
    """Escape text so the chat's markdown renderer shows it literally (no HTML, no markup)."""
    out = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(_escape_line_start, out)


def _escape_line_start(m: re.Match[str]) -> str:
    lead, mark = m.group(1), m.group(2)
    if mark[0].isdigit():  # "1." starts a list: escape the dot/paren after the number
        return lead + mark + "\\"
    return lead + "\\" + mark


def escape_answer_md(text: str) -> str:
    """Like `escape_md`, but keeps the [n] markers readable (they are plain text in markdown)."""
    return _ESCAPED_MARKER.sub(r"[\1]", escape_md(text))


def esc(text: object) -> str:
    """HTML-escape anything (quotes too, so it is safe inside attributes)."""
    return html.escape(str(text), quote=True)


def safe_url(url: str) -> str:
    """The url when it is http(s); "" otherwise (no javascript:, data: or file: links)."""
    u = (url or "").strip()
    return u if re.match(r"(?i)^https?://[^\s\"'<>]+$", u) else ""


# -- chat bubbles -------------------------------------------------------------------------------
def timing_label(ans: Answer) -> str:
    """'extractive · 0.12 s' — the mode and total time of one answer."""
    t = ans.timings.get("total")
    return ans.mode + (f" · {t:.2f} s" if t is not None else "")


def answer_markdown(ans: Answer, scope: str = "") -> str:
    """The chat bubble of a final answer: escaped text, [n] markers, flagged sentences."""
    if ans.refused:
        return refused_markdown(ans, scope)
    flagged = [s.text for s in ans.unsupported_sentences if s.text.strip()]
    parts: list[str] = []
    rest, pos, missing = ans.text, 0, []
    for sentence in flagged:
        i = rest.find(sentence, pos)
        if i < 0:
            missing.append(sentence)
            continue
        parts.append(escape_answer_md(rest[pos:i]))
        parts.append(
            '<span class="qa-unsupported" title="Not supported by the cited passages">⚠ '
            + escape_answer_md(sentence) + "</span>"
        )
        pos = i + len(sentence)
    parts.append(escape_answer_md(rest[pos:]))
    md = "".join(parts)
    if missing:
        md += "\n\n**Not supported by the cited passages:**\n" + "\n".join(
            f"\\- ⚠ {escape_answer_md(s)}" for s in missing
        )
    return md


def refused_markdown(ans: Answer, scope: str = "") -> str:
    """A refusal in one line; the closest passages are offered in the Sources panel only. Under
    a filter it says which articles were searched, and that all of them can be."""
    if scope:
        return (f"**The articles searched don't say** (only {escape_md(scope)}). "
                "**Search all articles** asks them all.")
    near = offered_passages(ans)
    tail = " The closest passages are in the Sources panel." if near else ""
    return "**The articles don't say.**" + tail


_CREDIT = re.compile(  # a photo credit or caption line, not prose that could answer
    r"^\W*(?:photo(?:graph)?s?|pictures?|images?|credits?|illustration|video|source|"
    r"pictured|above|below|left|right|top|inset)\b[:\s]|\((?:getty|reuters|ap|afp|pa|epa|"
    r"shutterstock|alamy)[^)]*\)\s*$|\b(?:getty images|reuters|shutterstock|alamy|ap photo)\s*$",
    re.IGNORECASE)
PROSE_WORDS = 8  # a passage worth offering has a sentence at least this long that is not a credit


def worth_offering(p: Passage) -> bool:
    """Whether a passage is worth offering as "you may be looking for": it holds a sentence of
    prose (photo credits and captions alone are not)."""
    for line in p.chunk.text.splitlines():
        for sentence in re.split(r"(?<=[.!?])\s+", line.strip()):
            if len(sentence.split()) >= PROSE_WORDS and not _CREDIT.search(sentence):
                return True
    return False


def offered_passages(ans: Answer) -> list[Passage]:
    return [p for p in ans.passages if worth_offering(p)]


def scope_label(article_ids: Sequence[str], sources: Sequence[str],
                infos: Sequence[ArticleInfo]) -> str:
    """The search filter in words ("" when none): what a refusal under it says was searched."""
    parts = []
    if article_ids:
        if len(article_ids) == 1:
            title = next((i.meta.title for i in infos if i.meta.article_id == article_ids[0]),
                         "")
            parts.append(f"“{snippet(title, 60)}”" if title else "1 chosen article")
        else:
            parts.append(f"{len(article_ids)} chosen articles")
    if sources:
        pubs = ", ".join(sources)
        parts.append(("publication " if len(sources) == 1 else "publications ") + pubs)
    return " in ".join(parts) if len(parts) == 2 and article_ids else " and ".join(parts)


def turn_markdown(turn: ChatTurn) -> str:
    """The assistant bubble for a turn, whatever state it is in."""
    if turn.answer is not None:
        body = answer_markdown(turn.answer, turn.scope)
        if turn.fell_back:
            why = "; ".join(w.strip().rstrip(".") for w in turn.answer.warnings)
            why = why or "no reason given"
            body = (
                f"**The language model failed** ({escape_md(why)}). "
                "Here is the extractive answer instead (verbatim sentences from the articles):"
                "\n\n" + body
            )
        return body
    if turn.error:
        tail = (
            "\n\nUse **Answer extractively instead** below to get the answer built from "
            "the articles' own sentences." if turn.llm_failed else ""
        )
        return f"⚠️ {escape_md(turn.error)}{tail}"
    if turn.partial:
        return escape_answer_md(turn.partial) + " ▌"
    return "*Searching the articles…*"


def chat_messages(turns: Sequence[ChatTurn]) -> list[dict[str, str]]:
    """The Chatbot value (messages format): one user and one assistant message per turn."""
    out: list[dict[str, str]] = []
    for t in turns:
        out.append({"role": "user", "content": escape_md(t.question)})
        out.append({"role": "assistant", "content": turn_markdown(t)})
    return out


def snippet(text: str, n: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1].rsplit(" ", 1)[0] + "…"


# -- sources panel ------------------------------------------------------------------------------
def _meta_line(meta: ArticleMeta) -> str:
    bits = [b for b in (meta.source, meta.date) if b]
    return " · ".join(esc(b) for b in bits)


def _where_html(meta: ArticleMeta, start: int | None = None, end: int | None = None) -> str:
    url = safe_url(meta.url)
    if url:
        where = (
            f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
            f"{esc(url)}</a>"
        )
    else:  # the file's name: where it sits on the server is no reader's business
        where = f'<span class="qa-path">{esc(_where_plain(meta))}</span>'
    page = meta.page_at(start) if start is not None else None
    if page is not None:
        where += f' <span class="qa-page">p. {page}</span>'
    if start is not None and end is not None:
        where += f' <span class="qa-chars">chars {start}–{end}</span>'
    return where


READER_MAX_CHARS = 40_000  # a longer article is shown around its cited sentences
READER_CONTEXT_CHARS = 6_000


def _article_line(meta: ArticleMeta) -> str:
    """Publication · date · byline."""
    bits = [b for b in (meta.source, meta.date) if b]
    if meta.author:
        bits.append("by " + meta.author)
    return " · ".join(esc(b) for b in bits)


def _quote_spans(text: str, cites: Sequence[Citation]) -> list[tuple[int, int, list[int]]]:
    """(start, end, numbers) of each cited quote found in `text` (where the citation says, or
    else where the quote is), merged when two citations quote the same words."""
    spans: dict[tuple[int, int], list[int]] = {}
    for c in cites:
        s, e = c.start, c.end
        if not (0 <= s <= e <= len(text) and text[s:e] == c.quote):
            i = text.find(c.quote) if c.quote else -1
            if i < 0:
                continue  # the article changed since: not marked rather than marked wrong
            s, e = i, i + len(c.quote)
        spans.setdefault((s, e), []).append(c.number)
    out: list[tuple[int, int, list[int]]] = []
    for (s, e), ns in sorted(spans.items()):
        if out and s < out[-1][1]:  # overlapping quotes: one mark for both
            ps, pe, pns = out[-1]
            out[-1] = (ps, max(pe, e), sorted(pns + ns))
        else:
            out.append((s, e, ns))
    return out


def reader_html(turn_index: int, text: str, cites: Sequence[Citation]) -> str:
    """The whole article (a long one: around its cited sentences) with every cited sentence
    marked; each mark is `qa-read-<turn>-<n>`, so a click on [n] can scroll to it."""
    spans = _quote_spans(text, cites)
    lo, hi = 0, len(text)
    if len(text) > READER_MAX_CHARS and spans:
        lo = max(0, spans[0][0] - READER_CONTEXT_CHARS)
        hi = min(len(text), spans[-1][1] + READER_CONTEXT_CHARS)
    parts = ["…" if lo > 0 else ""]
    pos = lo
    for s, e, ns in spans:
        if s < lo or e > hi:
            continue
        parts.append(esc(text[pos:s]))
        ids = " ".join(f"qa-read-{turn_index}-{n}" for n in ns[1:])
        extra = f' data-also="{ids}"' if ids else ""
        parts.append(f'<mark class="qa-hl" id="qa-read-{turn_index}-{ns[0]}" '
                     f'data-n="{" ".join(map(str, ns))}"{extra}>{esc(text[s:e])}</mark>'
                     + "".join(f'<sup class="qa-ref">[{n}]</sup>' for n in ns))
        pos = e
    parts.append(esc(text[pos:hi]))
    parts.append("…" if hi < len(text) else "")
    return f'<div class="qa-reader" tabindex="0">{"".join(parts)}</div>'


def article_card_html(turn_index: int, k: int, ans: Answer, cites: Sequence[Citation],
                      article_text: ArticleTextFn | None = None) -> str:
    """One card per cited article: its cited sentences with their [n], then the whole article
    with every one of them marked (a citation's click opens it scrolled to its sentence)."""
    meta = cites[0].article
    full = ""
    if article_text is not None:
        try:
            full = article_text(meta.article_id) or ""
        except Exception:  # noqa: BLE001 - a deleted article still shows its quotes
            full = ""
    nums = "".join(f'<span class="qa-num">{c.number}</span>' for c in cites)
    marked = {n for _, _, ns in _quote_spans(full, cites) for n in ns} if full else set()
    items = []
    for c in cites:
        if c.number in marked or not full:
            quote = f'<mark class="qa-hl">{esc(c.quote)}</mark>'
        else:  # the article changed since the answer: the quote is shown, not marked
            quote = (f'“{esc(c.quote)}” <span class="qa-warn">not found in the article as '
                     "stored now</span>")
        items.append(
            f'<li class="qa-cited" id="qa-src-{turn_index}-{c.number}" data-n="{c.number}">'
            f'<span class="qa-num">{c.number}</span><span class="qa-cited-body">{quote}'
            f'<span class="qa-where">{_where_html(meta, c.start, c.end)}</span></span></li>')
    reader = (reader_html(turn_index, full, cites) if full else
              '<p class="qa-note">The article is no longer stored; its quotes are above.</p>')
    return (
        f'<details class="qa-card qa-art" id="qa-art-{turn_index}-{k}" '
        f'data-ns="{" ".join(str(c.number) for c in cites)}">'
        f'<summary><span class="qa-nums">{nums}</span>'
        f'<span class="qa-card-head"><span class="qa-title">{esc(meta.title)}</span>'
        f'<span class="qa-pub">{_article_line(meta)}</span></span></summary>'
        f'<ol class="qa-cited-list">{"".join(items)}</ol>'
        f'<p class="qa-sub qa-reader-head">The whole article</p>{reader}'
        f'<div class="qa-where">{_where_html(meta)}</div>'
        "</details>"
    )


def passage_card_html(turn_index: int, i: int, p: Passage) -> str:
    """A closest-passage card (refused answers): no highlight, the whole chunk."""
    return (
        f'<details class="qa-card qa-near" id="qa-near-{turn_index}-{i}">'
        f'<summary><span class="qa-num">{i}</span>'
        f'<span class="qa-card-head"><span class="qa-title">{esc(p.article.title)}</span>'
        f'<span class="qa-pub">{_meta_line(p.article)}</span>'
        f'<span class="qa-quote">“{esc(snippet(p.chunk.text, 140))}”</span></span></summary>'
        f'<div class="qa-passage">{esc(p.chunk.text)}</div>'
        f'<div class="qa-where">{_where_html(p.article, p.chunk.start, p.chunk.end)}</div>'
        "</details>"
    )


def turn_sources_html(i: int, turn: ChatTurn, article_text: ArticleTextFn | None = None,
                      active: bool = False) -> str:
    """The panel section of one turn."""
    head = f'<div class="qa-turn-q">{esc(turn.question)}</div>'
    ans = turn.answer
    if ans is None:
        body = f'<p class="qa-empty">{esc(turn.error or "Answering…")}</p>'
        meta = ""
    elif ans.refused:
        where = f"no answer in {esc(turn.scope)}" if turn.scope else "no answer in the articles"
        meta = f'<div class="qa-turn-meta">{esc(timing_label(ans))} · {where}</div>'
        near = offered_passages(ans)
        body = '<p class="qa-sub">You may be looking for:</p>' + "".join(
            passage_card_html(i, k, p) for k, p in enumerate(near, 1)
        ) if near else '<p class="qa-empty">No passages came close.</p>'
    else:
        n = len(ans.citations)
        copy = (f'<button type="button" class="qa-copy" data-copy="{esc(answer_with_footnotes(ans))}"'
                ' title="Copy the answer with its numbered sources">Copy with sources</button>')
        meta = (f'<div class="qa-turn-meta">{esc(timing_label(ans))} · '
                f'{n} source{"" if n == 1 else "s"} {copy}</div>')
        by_article: dict[str, list[Citation]] = {}
        for c in ans.citations:
            by_article.setdefault(c.article.article_id, []).append(c)
        body = "".join(article_card_html(i, k, ans, cites, article_text)
                       for k, cites in enumerate(by_article.values(), 1))
        flagged = ans.unsupported_sentences
        if flagged:
            body += ('<div class="qa-warn"><b>Not supported by the cited passages:</b><ul>'
                     + "".join(f"<li>{esc(s.text)}</li>" for s in flagged) + "</ul></div>")
        if ans.warnings:
            body += "".join(f'<p class="qa-note">{esc(w)}</p>' for w in ans.warnings)
    hidden = "" if active else " hidden"
    return (f'<section class="qa-turn" data-turn="{i}"{hidden}>'
            f"<header>{head}{meta}</header>{body}</section>")


def _where_plain(meta: ArticleMeta) -> str:
    """Where an article comes from, for a reader outside this machine: its link, else its file
    name (never a server path)."""
    url = safe_url(meta.url)
    if url:
        return url
    name = (meta.path or meta.article_id).split("#", 1)[0].replace("\\", "/").rsplit("/", 1)[-1]
    return name


def footnote(c: Citation) -> str:
    """`[n] Title — Publication, date. link-or-file, p. N. “quote”`"""
    m = c.article
    head = f"[{c.number}] {m.title or _where_plain(m)}"
    pub = ", ".join(b for b in (m.source, m.date) if b)
    if pub:
        head += f" — {pub}"
    where = _where_plain(m) + (f", p. {c.page}" if c.page is not None else "")
    return f"{head}. {where}. “{c.quote}”"


def answer_with_footnotes(ans: Answer) -> str:
    """What "copy" puts on the clipboard: the answer, then its numbered sources."""
    if ans.refused:
        return ans.text
    return ans.text.rstrip() + "\n\n" + "\n".join(footnote(c) for c in ans.citations)


def conversation_markdown(turns: Sequence[ChatTurn]) -> str:
    """The whole conversation as Markdown, every answer followed by its sources and quotes."""
    parts = ["# Article QA conversation"]
    for t in turns:
        block = [f"## {escape_md(t.question)}", ""]
        if t.answer is None:
            block.append(f"*{escape_md(t.error or 'No answer.')}*")
        elif t.answer.refused:
            scope = f" (searched: {t.scope})" if t.scope else ""
            block.append(escape_md(t.answer.text.split(". ")[0].rstrip(".") + "." + scope))
        else:
            block.append(escape_answer_md(t.answer.text.strip()))
            block.append("")
            block += [f"- {escape_md(footnote(c))}" for c in t.answer.citations]
        parts.append("\n".join(block))
    return "\n\n".join(parts) + "\n"


EMPTY_SOURCES = (
    '<div class="qa-sources-empty"><p><b>Sources</b> appear here.</p>'
    "<p>Click a <span class=\"qa-cite qa-cite-demo\">[1]</span> marker in an answer, or a card, "
    "to read the passage with the cited sentence highlighted.</p></div>"
)


def sources_html(turns: Sequence[ChatTurn], article_text: ArticleTextFn | None = None,
                 active: int | None = None) -> str:
    """The sources panel for a whole conversation: one section per turn, one shown."""
    if not turns:
        return f'<div class="qa-sources">{EMPTY_SOURCES}</div>'
    shown = len(turns) - 1 if active is None else active
    return '<div class="qa-sources">' + "".join(
        turn_sources_html(i, t, article_text, active=(i == shown)) for i, t in enumerate(turns)
    ) + "</div>"


# -- library ------------------------------------------------------------------------------------
LIBRARY_SORTS = {"Title": "title", "Newest first": "date", "Publication": "source"}


def library_infos(infos: Sequence[ArticleInfo], query: str | None = "",
                  sort: str = "title") -> list[ArticleInfo]:
    """The articles the library shows: filtered by a case-insensitive text query (title,
    publication, date, author, link or file name), sorted by title, newest date first (undated
    last) or publication."""
    q = (query or "").strip().lower()
    shown = [i for i in infos if not q or q in " ".join(
        (i.meta.title, i.meta.source, i.meta.date, i.meta.author, i.meta.url,
         _where_plain(i.meta))).lower()]
    by_title = sorted(shown, key=lambda i: (i.meta.title.lower(), i.meta.article_id))
    if sort == "date":
        dated = sorted((i for i in by_title if i.meta.date), key=lambda i: i.meta.date,
                       reverse=True)
        return dated + [i for i in by_title if not i.meta.date]
    if sort == "source":
        return sorted(by_title, key=lambda i: (not i.meta.source, i.meta.source.lower()))
    return by_title


def library_html(infos: Sequence[ArticleInfo], query: str | None = "",
                 sort: str = "title") -> str:
    """The library as a table (cards on a phone): title with its link or file name,
    publication, date, passages, and per article **Open** (read it whole) and **Delete…**."""
    shown = library_infos(infos, query, sort)
    if not infos:
        return '<p class="qa-empty">No articles yet: add some below.</p>'
    if not shown:
        return f'<p class="qa-empty">No article matches “{esc(query or "")}”.</p>'
    rows = []
    for i in shown:
        m = i.meta
        aid = esc(m.article_id)
        by = f'<span class="qa-lib-by">by {esc(m.author)}</span>' if m.author else ""
        rows.append(
            f'<tr data-id="{aid}"><td class="qa-lib-title" data-label="Title">'
            f'<button type="button" class="qa-lib-open" data-id="{aid}" '
            f'title="Read the whole article">{esc(m.title or _where_plain(m))}</button>{by}'
            f'<span class="qa-lib-where">{esc(_where_plain(m))}</span></td>'
            f'<td data-label="Publication">{esc(m.source) or "–"}</td>'
            f'<td data-label="Date">{esc(m.date) or "–"}</td>'
            f'<td data-label="Passages" class="qa-lib-n">{i.n_chunks}</td>'
            f'<td class="qa-lib-act"><button type="button" class="qa-lib-open" data-id="{aid}">'
            f'Open</button><button type="button" class="qa-lib-del" data-id="{aid}" '
            f'aria-label="Delete {esc(m.title)}">Delete…</button></td></tr>')
    n = len(shown)
    return (f'<table class="qa-lib"><caption>{n} article{"" if n == 1 else "s"}</caption>'
            "<thead><tr><th>Title</th><th>Publication</th><th>Date</th><th>Passages</th>"
            f'<th><span class="qa-sr">Actions</span></th></tr></thead><tbody>{"".join(rows)}'
            "</tbody></table>")


def article_reader_html(meta: ArticleMeta, text: str) -> str:
    """An article opened from the library: its metadata and its whole stored text."""
    return (f'<article class="qa-lib-reader"><h3>{esc(meta.title)}</h3>'
            f'<p class="qa-pub">{_article_line(meta)}</p>'
            f'<div class="qa-reader" tabindex="0">{esc(text)}</div>'
            f'<div class="qa-where">{_where_html(meta)}</div></article>')


def article_choices(infos: Sequence[ArticleInfo]) -> list[tuple[str, str]]:
    """(label, article id) pairs for dropdowns, labels made unique by the id's tail."""
    out = []
    for i in sorted(infos, key=lambda i: (i.meta.title.lower(), i.meta.article_id)):
        label = i.meta.title or i.meta.article_id
        if i.meta.source:
            label += f" — {i.meta.source}"
        out.append((label, i.meta.article_id))
    seen: dict[str, int] = {}
    for label, _ in out:
        seen[label] = seen.get(label, 0) + 1
    return [
        (f"{label} ({aid[-40:]})" if seen[label] > 1 else label, aid) for label, aid in out
    ]


def source_choices(infos: Sequence[ArticleInfo]) -> list[str]:
    return sorted({i.meta.source for i in infos if i.meta.source})


def ingest_report_html(report: IngestReport, names: dict[str, str] | None = None) -> str:
    """The per-file report of an upload, like the CLI's: status, file, chunks or reason."""
    names = names or {}
    rows = []
    for r in report.results:
        shown = names.get(r.path, r.path)
        detail = r.reason if r.status in ("failed", "duplicate") else (
            f"{r.n_chunks} chunks" if r.status in ("added", "updated") else r.reason)
        title = f" — {esc(r.title)}" if r.title else ""
        rows.append(
            f'<tr class="qa-st-{esc(r.status)}"><td><span class="qa-badge">{esc(r.status)}'
            f"</span></td><td>{esc(shown)}{title}</td><td>{esc(detail)}</td></tr>"
        )
    return (
        '<div class="qa-report"><table><thead><tr><th>Status</th><th>File</th><th>Detail</th>'
        f'</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f"<p>{esc(report.summary())} in {report.seconds:.1f} s</p></div>"
    )


def rejected_html(rejected: Sequence[tuple[str, str]]) -> str:
    """Files refused before ingestion (wrong type, too big), with the reason."""
    if not rejected:
        return ""
    return '<div class="qa-report"><table><tbody>' + "".join(
        f'<tr class="qa-st-failed"><td><span class="qa-badge">rejected</span></td>'
        f"<td>{esc(n)}</td><td>{esc(why)}</td></tr>"
        for n, why in rejected
    ) + "</tbody></table></div>"


# -- API payload --------------------------------------------------------------------------------
def answer_payload(ans: Answer) -> dict[str, Any]:
    """The JSON the `/ask` API endpoint returns (a plain dict at this edge only)."""

    def meta(m: ArticleMeta) -> dict[str, str]:
        # "file", not "path": gradio_client takes any dict with a "path" key for a file to fetch
        return {"article_id": m.article_id, "title": m.title, "source": m.source,
                "date": m.date, "url": m.url, "file": m.path, "author": m.author}

    return {
        "question": ans.question,
        "text": ans.text,
        "refused": ans.refused,
        "mode": ans.mode,
        "citations": [
            {"number": c.number, **meta(c.article), "chunk_id": c.chunk_id,
             "start": c.start, "end": c.end, "page": c.page, "quote": c.quote, "score": c.score}
            for c in ans.citations
        ],
        "passages": [
            {**meta(p.article), "chunk_id": p.chunk.chunk_id, "start": p.chunk.start,
             "end": p.chunk.end, "text": p.chunk.text, "score": p.score}
            for p in ans.passages
        ],
        "unsupported_sentences": [s.text for s in ans.unsupported_sentences],
        "warnings": list(ans.warnings),
        "standalone_question": ans.standalone_question,
        "timings": dict(ans.timings),
    }
