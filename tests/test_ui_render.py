"""The browser chat's pure parts: escaping, citation cards, panels, feedback rows, upload staging.

Markdown escaping is checked by rendering with a real CommonMark renderer (markdown-it-py), the
family of renderer the Chatbot uses; answers come from the real assistant over the samples.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from qa.feedback import ENV_NAME, Feedback, append_feedback, feedback_path, read_feedback
from qa.settings import Settings
from qa.types import (
    Answer,
    ArticleInfo,
    ArticleMeta,
    Chunk,
    Citation,
    FileResult,
    IngestReport,
    Passage,
    SentenceCheck,
)
from qa.ui_render import (
    ChatTurn,
    answer_markdown,
    answer_payload,
    answer_with_footnotes,
    article_card_html,
    article_choices,
    article_reader_html,
    chat_messages,
    conversation_markdown,
    escape_answer_md,
    escape_md,
    footnote,
    ingest_report_html,
    library_html,
    library_infos,
    reader_html,
    refused_markdown,
    safe_url,
    scope_label,
    sources_html,
    turn_markdown,
    worth_offering,
)

XSS = '<script>window.__xss=1</script> and <img src=x onerror="window.__xss=2">'
MD = MarkdownIt("commonmark")


def visible_text(rendered: str) -> str:
    """What a reader sees: tags dropped, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


# -- synthetic answers --------------------------------------------------------------------------
ARTICLE = (
    "Intro line. Lively dropped the claim to streamline the dispute. "
    + XSS + " Closing line about the trial in March."
)
META = ArticleMeta(article_id="/tmp/a.txt", title="A <b>bold</b> title", source="Daily <i>Mail</i>",
                   date="2025-03-01", url="https://example.com/a?x=1&y=2", path="/tmp/a.txt")
CHUNK = Chunk(chunk_id="a#0", article_id="/tmp/a.txt", index=0, start=0, end=len(ARTICLE),
              text=ARTICLE, n_tokens=40)


def cite(quote: str, number: int = 1, meta: ArticleMeta = META, shift: int = 0) -> Citation:
    start = ARTICLE.index(quote) + shift
    return Citation(number=number, article=meta, chunk_id="a#0", start=start,
                    end=start + len(quote), quote=quote, score=0.9)


def make_answer(**changes: object) -> Answer:
    c1 = cite("Lively dropped the claim to streamline the dispute.")
    base = Answer(question="Why?", text="Lively dropped the claim to streamline the dispute. [1]",
                  citations=(c1,), refused=False, mode="extractive",
                  passages=(Passage(chunk=CHUNK, article=META, score=0.5, rank=1),),
                  timings={"total": 0.1234})
    return replace(base, **changes)  # type: ignore[arg-type]


# -- copy, export, keeping the conversation -----------------------------------------------------
def test_footnotes_give_title_publication_date_place_and_quote() -> None:
    ans = make_answer()
    out = answer_with_footnotes(ans)
    assert out == ("Lively dropped the claim to streamline the dispute. [1]\n\n"
                   "[1] A <b>bold</b> title — Daily <i>Mail</i>, 2025-03-01. "
                   "https://example.com/a?x=1&y=2. “Lively dropped the claim to streamline the "
                   "dispute.”")
    local = replace(META, url="", path="/srv/store/uploads/report.pdf", pages=(0, 5))
    c = replace(ans.citations[0], article=local, start=7)
    assert footnote(c).endswith(". report.pdf, p. 2. “Lively dropped the claim to streamline the "
                                "dispute.”")
    refused = make_answer(citations=(), refused=True, text="The articles don't say.")
    assert answer_with_footnotes(refused) == "The articles don't say."


def test_conversation_markdown_holds_every_answer_and_quote() -> None:
    turns = [ChatTurn("Why?", answer=make_answer()),
             ChatTurn("And Paris?", answer=make_answer(citations=(), refused=True,
                                                        text="The articles don't say. More."),
                      scope="publication Fox"),
             ChatTurn("Broken?", error="The model failed")]
    md = conversation_markdown(turns)
    assert md.startswith("# Article QA conversation\n\n## Why?\n")
    assert "- \\[1\\] A \\<b\\>bold\\</b\\> title" in md and "streamline the dispute.”" in md
    assert "The articles don't say. (searched: publication Fox)" in md
    assert "*The model failed*" in md
    rendered = MD.render(md)
    assert "<b>bold" not in rendered  # article text stays text in the export too


def test_the_kept_conversation_comes_back_the_same_or_not_at_all(sample_bot) -> None:  # type: ignore[no-untyped-def]
    from ui import ChatController

    ctl = ChatController(sample_bot, sample_bot.settings)
    turns = [ChatTurn("Why did Lively drop the distress claim?",
                      answer=sample_bot.ask("Why did Lively drop the distress claim?")),
             ChatTurn("Half", partial="streaming…")]  # unfinished: not kept
    kept = json.loads(json.dumps(ctl.saved(turns)))
    out = ctl.restore(kept)
    assert out[0] == turns[:1] and "[1]" in out[1][-1]["content"]
    assert out[-1]["visible"] is True and Path(out[-1]["value"]).read_text(
        encoding="utf-8").startswith("# Article QA conversation")
    for bad in ([{"question": 3}], [{"nothing": True}], "junk", None):
        out = ctl.restore(bad)
        assert out[0] == [] and out[-1]["visible"] is False


# -- escaping -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    XSS,
    "<img src=x onerror=alert(1)>",
    "# Heading?\n- a list\n1. numbered\n> quote\n===",
    "a & b &lt; *c* _d_ `e` ~~f~~ | g \\ h",
    "[1](javascript:alert(1)) and ![x](http://x/y.png) and [link][ref]\n\n[ref]: http://x",
    "<!-- comment --> <a href='javascript:alert(1)'>x</a>",
])
def test_escaped_markdown_renders_as_the_same_text_and_no_tags(text: str) -> None:
    rendered = MD.render(escape_answer_md(text))
    assert re.findall(r"<(?!/?p>)[^>]*>", rendered) == [], rendered  # only <p> of our own
    assert visible_text(rendered).split() == text.split()


def test_markers_stay_plain_but_links_do_not() -> None:
    out = escape_answer_md("Claim one. [1] Claim two [2][3]. Not a link [4](http://x)")
    assert "[1]" in out and "[2][3]" in out
    assert "\\[4\\](http://x)" in out
    assert "href" not in MD.render(out)


def test_escape_md_escapes_brackets_everywhere() -> None:
    assert escape_md("[1]") == "\\[1\\]"


def test_safe_url_only_http() -> None:
    assert safe_url("https://x.org/a b") == ""
    assert safe_url("javascript:alert(1)") == ""
    assert safe_url("data:text/html,<x>") == ""
    assert safe_url(" http://x.org/a?b=1 ") == "http://x.org/a?b=1"


# -- chat bubbles -------------------------------------------------------------------------------
def test_answer_markdown_flags_unsupported_sentences() -> None:
    ans = make_answer(
        text="Lively dropped the claim. [1] The judge was angry. And <b>more</b>.",
        sentences=(SentenceCheck("Lively dropped the claim. [1]", (1,), 0.9, True),
                   SentenceCheck("The judge was angry.", (), 0.1, False),
                   SentenceCheck("Not in the text at all.", (), 0.0, False)),
    )
    md = answer_markdown(ans)
    assert re.search(r'<span class="qa-unsupported"[^>]*>⚠ The judge was angry\.</span>', md)
    assert "Not supported by the cited passages:**\n\\- ⚠ Not in the text at all." in md
    assert "\\<b\\>more\\</b\\>" in md  # answer text stays text
    assert "[1]" in md


def test_a_refusal_is_one_line_and_its_passages_go_to_the_panel() -> None:
    ans = make_answer(text="The articles don't say. The closest passages are listed below.",
                      citations=(), refused=True)
    md = refused_markdown(ans)
    assert md == ("**The articles don't say.** The closest passages are in the Sources panel.")
    assert "\n" not in md and "A \\<b\\>bold" not in md  # no titles or excerpts in the bubble
    out = sources_html([ChatTurn("Why?", answer=ans)])
    assert "You may be looking for:" in out and 'id="qa-near-0-1"' in out
    # nothing worth offering: no promise of passages
    bare = make_answer(citations=(), refused=True, passages=())
    assert refused_markdown(bare) == "**The articles don't say.**"


def test_a_refusal_under_a_filter_says_what_was_searched() -> None:
    ans = make_answer(citations=(), refused=True)
    turn = ChatTurn("Why?", answer=ans, scope="publication Fox News Digital")
    assert turn.refused_in_scope
    md = turn_markdown(turn)
    assert "don't say** (only publication Fox News Digital)" in md
    assert "**Search all articles**" in md
    assert "no answer in publication Fox News Digital" in sources_html([turn])
    assert not ChatTurn("Why?", answer=make_answer(), scope="x").refused_in_scope
    assert not ChatTurn("Why?", answer=ans).refused_in_scope


def test_scope_label_names_the_filter() -> None:
    infos = [ArticleInfo(ArticleMeta("a1", "Lively drops her claim"), 3, "h"),
             ArticleInfo(ArticleMeta("a2", "Judge rules"), 2, "h")]
    assert scope_label([], [], infos) == ""
    assert scope_label(["a1"], [], infos) == "“Lively drops her claim”"
    assert scope_label(["a1", "a2"], [], infos) == "2 chosen articles"
    assert scope_label([], ["Daily Mail"], infos) == "publication Daily Mail"
    assert scope_label([], ["Daily Mail", "Fox"], infos) == "publications Daily Mail, Fox"
    assert scope_label(["a2"], ["Fox"], infos) == "“Judge rules” in publication Fox"


@pytest.mark.parametrize(("text", "offered"), [
    ("Photo: Blake Lively at the premiere in New York. (Getty Images)", False),
    ("Pictured: the actress and her husband Ryan Reynolds at the Met Gala in May", False),
    ("Credit: Reuters", False),
    ("Blake Lively at the premiere", False),  # a caption: too short to answer anything
    ("Lively agreed to withdraw the claims to streamline the dispute, her lawyers said.", True),
    ("Photo: Getty Images\nThe judge ruled that the claims will be dismissed next week.", True),
])
def test_only_passages_with_prose_are_offered(text: str, offered: bool) -> None:
    chunk = Chunk("c", "a", 0, 0, len(text), text, 10)
    assert worth_offering(Passage(chunk=chunk, article=META, score=0.1)) is offered


def test_turn_markdown_states() -> None:
    ans = make_answer(mode="extractive", warnings=("LLM failed (HTTP 500); answered extractively",))
    fell_back = ChatTurn("Why?", requested_mode="llm", answer=ans)
    assert fell_back.fell_back
    md = turn_markdown(fell_back)
    assert md.startswith("**The language model failed** (LLM failed (HTTP 500); answered "
                         "extractively). Here is the extractive answer instead")
    assert not ChatTurn("Why?", requested_mode="llm", answer=replace(ans, mode="llm:m")).fell_back
    err = turn_markdown(ChatTurn("Why?", requested_mode="llm", error="The language model failed "
                                 "(HTTP 401): bad key <x>", llm_failed=True))
    assert "bad key \\<x\\>" in err and "Answer extractively instead" in err
    assert turn_markdown(ChatTurn("Why?", partial="Half an ans")).endswith("Half an ans ▌")
    assert turn_markdown(ChatTurn("Why?")) == "*Searching the articles…*"


def test_chat_messages_pairs_and_escapes_questions() -> None:
    msgs = chat_messages([ChatTurn("<img src=x onerror=alert(1)>?", answer=make_answer())])
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[0]["content"] == "\\<img src=x onerror=alert(1)\\>?"
    assert "<img" not in MD.render(msgs[0]["content"])


# -- sources panel ------------------------------------------------------------------------------
def test_one_card_per_article_lists_its_cited_sentences_and_marks_them_in_the_article() -> None:
    q1 = "Lively dropped the claim to streamline the dispute."
    q2 = "Closing line about the trial in March."
    other = replace(META, article_id="/tmp/b.txt", path="/tmp/b.txt", title="Other")
    c1, c2 = cite(q1, number=1), cite(q2, number=2)
    c3 = replace(cite(q1, number=3), article=other)
    ans = make_answer(citations=(c1, c2, c3))
    texts = {"/tmp/a.txt": ARTICLE, "/tmp/b.txt": ARTICLE}
    out = sources_html([ChatTurn("Why?", answer=ans)], texts.__getitem__)
    cards = re.findall(r'<details class="qa-card qa-art" id="qa-art-0-(\d)" data-ns="([\d ]+)"',
                       out)
    assert cards == [("1", "1 2"), ("2", "3")]  # two of three citations share an article
    first = out.split('id="qa-art-0-1"')[1].split("</details>")[0]
    assert 'id="qa-src-0-1"' in first and 'id="qa-src-0-2"' in first
    reader = first.split('class="qa-reader"')[1]
    for n, q in ((1, q1), (2, q2)):  # the whole article, each cited sentence marked
        assert f'id="qa-read-0-{n}" data-n="{n}">{q}</mark><sup class="qa-ref">[{n}]</sup>' in reader
    assert reader.count("<mark") == 2 and "&lt;script&gt;window.__xss=1" in reader
    assert "<script" not in out and "<b>bold" not in out and "<i>Mail" not in out


def test_the_card_says_when_a_quote_is_not_in_the_article_as_stored_now() -> None:
    q = "Lively dropped the claim to streamline the dispute."
    wrong = replace(cite(q), quote="words that are nowhere")
    card = article_card_html(0, 1, make_answer(citations=(wrong,)), [wrong], lambda aid: ARTICLE)
    assert "not found in the article as stored now" in card and "<mark" not in card
    gone = article_card_html(0, 1, make_answer(), [cite(q)], None)
    assert f'<mark class="qa-hl">{q}</mark>' in gone and "no longer stored" in gone


def test_card_html_escapes_everything_and_names_the_place() -> None:
    q = "Lively dropped the claim to streamline the dispute."
    ans = make_answer()
    html_out = article_card_html(2, 1, ans, [cite(q, number=1)], lambda aid: ARTICLE)
    assert 'id="qa-src-2-1"' in html_out
    assert f'<mark class="qa-hl">{q}</mark>' in html_out
    assert "<script" not in html_out and "<img" not in html_out and "<b>bold" not in html_out
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html_out
    assert 'href="https://example.com/a?x=1&amp;y=2"' in html_out
    assert 'rel="noopener noreferrer nofollow"' in html_out
    assert "Daily &lt;i&gt;Mail&lt;/i&gt; · 2025-03-01" in html_out
    bad_link = replace(META, url="javascript:alert(1)", author="Jo <b>Doe</b>")
    card = article_card_html(0, 1, ans, [cite(q, meta=bad_link)], lambda aid: ARTICLE)
    where = card.split('class="qa-where"')[1]
    assert "href" not in where and "javascript" not in where
    assert ">a.txt<" in where and "/tmp/" not in where  # the file's name, not a server path
    assert "by Jo &lt;b&gt;Doe&lt;/b&gt;" in card  # the byline, as text


def test_a_long_article_is_shown_around_its_cited_sentences() -> None:
    q = "The one sentence that is cited here."
    text = "Filler words. " * 6000 + q + " More filler. " * 6000
    start = text.index(q)
    c = replace(cite("Lively dropped the claim to streamline the dispute."), quote=q,
                start=start, end=start + len(q))
    html_out = reader_html(0, text, [c])
    assert html_out.count("<mark") == 1 and len(html_out) < len(text) / 2
    assert ">…Filler" in html_out or html_out.split(">", 1)[1].startswith("…")
    overlapping = [c, replace(c, number=2, start=start, end=start + 12,
                              quote=text[start:start + 12])]
    merged = reader_html(0, text, overlapping)
    assert merged.count("<mark") == 1 and 'data-n="1 2"' in merged

def test_sources_html_one_section_per_turn_last_shown() -> None:
    turns = [ChatTurn("one?", answer=make_answer()), ChatTurn("two?", answer=make_answer()),
             ChatTurn("three?", error="The question is empty")]
    out = sources_html(turns)
    sections = re.findall(r'<section class="qa-turn" data-turn="(\d)"( hidden)?>', out)
    assert sections == [("0", " hidden"), ("1", " hidden"), ("2", "")]
    assert 'id="qa-src-0-1"' in out and 'id="qa-src-1-1"' in out
    assert "extractive · 0.12 s · 1 source <button" in out
    refused = make_answer(citations=(), refused=True, text="The articles don't say.")
    out = sources_html([ChatTurn("q", answer=refused)])
    assert "You may be looking for:" in out and 'id="qa-near-0-1"' in out


def test_real_answer_cards_mark_each_cited_quote(  # type: ignore[no-untyped-def]
        sample_bot) -> None:
    ans = sample_bot.ask("Why did Lively drop the distress claim?")
    assert ans.citations and not ans.refused
    md = answer_markdown(ans)
    for c in ans.citations:
        assert f"[{c.number}]" in md
        assert sample_bot.article_text(c.article.article_id)[c.start:c.end] == c.quote
    out = sources_html([ChatTurn(ans.question, answer=ans)], sample_bot.article_text)
    import html

    marks = [html.unescape(m) for m in re.findall(r'<mark class="qa-hl">(.*?)</mark>', out)]
    assert marks == [c.quote for c in ans.citations]  # each cited sentence, in its card's list
    read = {int(n) for ns in re.findall(r'<mark class="qa-hl" id="qa-read-0-\d+" data-n="([\d ]+)"',
                                         out) for n in ns.split()}
    assert read == {c.number for c in ans.citations}  # and marked in its whole article


# -- library and API ----------------------------------------------------------------------------
def info(title: str, source: str = "", aid: str = "") -> ArticleInfo:
    return ArticleInfo(ArticleMeta(article_id=aid or f"/x/{title}.txt", title=title,
                                   source=source), n_chunks=3, content_hash="h")


def test_library_filters_and_sorts() -> None:
    infos = [info("Zeta", "Fox"), info("alpha", "Daily Mail"), info("Beta", "", "/y/b.txt")]
    titles = lambda xs: [i.meta.title for i in xs]
    assert titles(library_infos(infos)) == ["alpha", "Beta", "Zeta"]
    assert titles(library_infos(infos, "  MAIL ")) == ["alpha"]
    assert titles(library_infos(infos, "b.txt")) == ["Beta"]  # a file's name, not its folder
    assert titles(library_infos(infos, "/y/")) == []
    assert library_infos(infos, None) == library_infos(infos, "")
    dated = [replace(i, meta=replace(i.meta, date=d)) for i, d in
             zip(infos, ("2025-01-02", "", "2025-03-04"), strict=True)]
    assert titles(library_infos(dated, sort="date")) == ["Beta", "Zeta", "alpha"]  # undated last
    assert titles(library_infos(infos, sort="source")) == ["alpha", "Zeta", "Beta"]
    dup = [info("Same", aid="/a/one.txt"), info("Same", aid="/a/two.txt")]
    labels = [label for label, _ in article_choices(dup)]
    assert len(set(labels)) == 2


def test_library_html_reads_well_and_escapes() -> None:
    infos = [ArticleInfo(replace(META, author="Jo Doe"), 4, "h"), info("Plain", "", "/srv/u/p.txt")]
    out = library_html(infos)
    assert "<th>Passages</th>" in out and "Chunks" not in out and "Id<" not in out
    assert "2 articles" in out and "by Jo Doe" in out
    assert ">https://example.com/a?x=1&amp;y=2<" in out  # its link, when it has one
    assert ">p.txt<" in out and "/srv/u/" not in out.replace(
        'data-id="/srv/u/p.txt"', "")  # a file's name shown; its path only in the row's id
    assert out.count('class="qa-lib-del"') == 2 and out.count("Open</button>") == 2
    assert "<b>bold" not in out and "A &lt;b&gt;bold&lt;/b&gt; title" in out
    assert "No article matches" in library_html(infos, "nothing like it")
    assert "No articles yet" in library_html([])
    reader = article_reader_html(META, ARTICLE)
    assert "&lt;script&gt;window.__xss=1" in reader and "<script" not in reader


def test_ingest_report_html_says_why_files_failed() -> None:
    report = IngestReport(results=(
        FileResult("/u/a.txt", "added", "/u/a.txt", "A <script>", n_chunks=4),
        FileResult("/u/b.pdf", "failed", reason="unsupported file type .pdf <b>"),
        FileResult("/u/c.txt", "duplicate", reason="same text as /u/a.txt"),
    ), seconds=1.25)
    out = ingest_report_html(report)
    assert "4 chunks" in out and "unsupported file type .pdf &lt;b&gt;" in out
    assert "same text as /u/a.txt" in out and "A &lt;script&gt;" in out
    assert "1 added, 0 updated, 0 unchanged, 1 duplicate, 0 pruned, 1 failed in 1.2 s" in out


def test_answer_payload_is_json() -> None:
    p = answer_payload(make_answer())
    json.dumps(p)
    assert p["text"].endswith("[1]") and p["refused"] is False
    c = p["citations"][0]
    assert ARTICLE[c["start"]:c["end"]] == c["quote"] and c["article_id"] == "/tmp/a.txt"
    assert c["file"] == "/tmp/a.txt" and "path" not in c  # gradio_client would fetch a "path"


# -- feedback -----------------------------------------------------------------------------------
def test_feedback_rows_append_and_comment_supersedes(tmp_path: Path) -> None:
    settings = Settings(store_path=str(tmp_path / "store"), openai_api_key="sk-secret")
    path = feedback_path(settings, env={})
    assert path == tmp_path / "store" / "feedback.jsonl"
    ans = make_answer()
    row = Feedback.for_answer(ans, ["earlier?"], "down", settings, request={"top_k": 3})
    append_feedback(path, row)
    append_feedback(path, replace(row, comment="wrong quote"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["rating"] == "down" and first["history"] == ["earlier?"]
    assert first["answer"] == ans.text and first["mode"] == "extractive"
    assert first["citations"] == [{"number": 1, "article_id": "/tmp/a.txt",
                                   "start": ans.citations[0].start, "end": ans.citations[0].end,
                                   "quote": ans.citations[0].quote}]
    assert first["settings"]["openai_api_key"] == "***" and first["request"] == {"top_k": 3}
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", first["timestamp"])
    rows = read_feedback(path)
    assert len(rows) == 1 and rows[0]["comment"] == "wrong quote"


def test_feedback_path_env_and_rating_check(tmp_path: Path) -> None:
    settings = Settings(store_path=str(tmp_path / "store"))
    env = {ENV_NAME: str(tmp_path / "fb.jsonl")}
    assert feedback_path(settings, env=env) == tmp_path / "fb.jsonl"
    with pytest.raises(Exception, match="rating must be"):
        Feedback.for_answer(make_answer(), [], "meh", settings)


# -- ui.py wiring helpers -----------------------------------------------------------------------
def test_auth_from_env(tmp_path: Path) -> None:
    from qa.errors import ConfigError
    from ui import auth_from_env

    assert auth_from_env({}) is None
    assert auth_from_env({"QA_UI_USER": "ann", "QA_UI_PASSWORD": "pw"}) == [("ann", "pw")]
    f = tmp_path / "users"
    f.write_text("# logins\nbob:se:cret\n\ncat:x\n", encoding="utf-8")
    assert auth_from_env({"QA_UI_AUTH_FILE": str(f)}) == [("bob", "se:cret"), ("cat", "x")]
    with pytest.raises(ConfigError, match="both QA_UI_USER and QA_UI_PASSWORD"):
        auth_from_env({"QA_UI_USER": "ann"})
    f.write_text("nopassword\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected user:password"):
        auth_from_env({"QA_UI_AUTH_FILE": str(f)})
    with pytest.raises(ConfigError, match="does not exist"):
        auth_from_env({"QA_UI_AUTH_FILE": str(tmp_path / "missing")})


def test_upload_staging_rejects_and_restores(tmp_path: Path) -> None:
    from ui import _stage_uploads, _unstage_failures, uploads_dir

    settings = Settings(store_path=str(tmp_path / "store"), max_file_bytes=1000)
    src = tmp_path / "in"
    src.mkdir()
    (src / "ok.txt").write_text("new text", encoding="utf-8")
    (src / "big.md").write_text("x" * 1001, encoding="utf-8")
    (src / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    (src / "dup.txt").write_text("dup", encoding="utf-8")
    up = uploads_dir(settings)
    up.mkdir(parents=True)
    (up / "ok.txt").write_text("old text", encoding="utf-8")  # an earlier upload, stored
    staged, rejected = _stage_uploads([str(src / n) for n in
                                       ("ok.txt", "big.md", "sheet.xlsx", "dup.txt")], settings)
    assert [p.name for p, _ in staged] == ["ok.txt", "dup.txt"]
    reasons = dict(rejected)
    assert reasons["big.md"] == "1.0 kB is over the 1.0 kB limit (QA_MAX_FILE_BYTES)"
    assert "unsupported type .xlsx" in reasons["sheet.xlsx"]
    assert (up / "ok.txt").read_text(encoding="utf-8") == "new text"
    _unstage_failures(staged, {str(up / "ok.txt"): "failed", str(up / "dup.txt"): "duplicate"})
    assert (up / "ok.txt").read_text(encoding="utf-8") == "old text"  # nothing stored is lost
    assert not (up / "dup.txt").exists()


# -- the controller behind the chat (no browser; a scripted LLM where the LLM path is tested) ----
class ScriptedLLM:
    """Stands in for qa.generate: yields pieces then an Answer, or raises, as scripted."""

    def __init__(self, pieces: list[str], final: Answer | None = None,
                 error: Exception | None = None) -> None:
        self.pieces, self.final, self.error = pieces, final, error
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def stream(  # type: ignore[no-untyped-def]
            self, bot, question, history, *, top_k=None, scope=None):
        self.calls.append((question, tuple(history)))
        yield from self.pieces
        if self.error is not None:
            raise self.error
        yield self.final


def llm_controller(sample_bot, llm: ScriptedLLM):  # type: ignore[no-untyped-def]
    from qa.api import Assistant
    from ui import ChatController

    settings = sample_bot.settings.replace(openai_base_url="http://127.0.0.1:9/v1")
    bot = Assistant(settings, sample_bot.embedder, sample_bot.store, llm=llm)
    return ChatController(bot, settings)


def run(gen) -> list[tuple]:  # type: ignore[no-untyped-def]
    return list(gen)


def test_controller_streams_llm_pieces_then_the_answer(  # type: ignore[no-untyped-def]
        sample_bot) -> None:
    ex = sample_bot.ask("Why did Lively drop the distress claim?")
    final = replace(ex, mode="llm:scripted")
    llm = ScriptedLLM(["She dropped ", "it to streamline", " the dispute. [1]"], final)
    ctl = llm_controller(sample_bot, llm)
    assert ctl.llm_ok and ctl.default_mode == "llm"
    outs = run(ctl.respond("Why did Lively drop the distress claim?", [], "llm", 5, [], []))
    bubbles = [o[2][-1]["content"] for o in outs]
    assert bubbles[0] == "*Searching the articles…*"
    assert bubbles[1:4] == ["She dropped  ▌", "She dropped it to streamline ▌",
                            "She dropped it to streamline the dispute. [1] ▌"]
    assert bubbles[-1] == answer_markdown(final)
    turns = outs[-1][1]
    assert turns[-1].answer is final
    assert all(o[0] == {"__type__": "update"} for o in outs)  # the box is left alone
    # a follow-up carries the earlier question as history
    run(ctl.respond("Who is her lawyer?", turns, "llm", 5, [], []))
    assert llm.calls[-1] == ("Who is her lawyer?", ("Why did Lively drop the distress claim?",))


def test_controller_llm_error_offers_the_extractive_answer(  # type: ignore[no-untyped-def]
        sample_bot) -> None:
    from qa.errors import LLMError

    llm = ScriptedLLM(["Half"], error=LLMError("the server is overloaded", status=503))
    ctl = llm_controller(sample_bot, llm)
    outs = run(ctl.respond("Why did Lively drop the distress claim?", [], "llm", 5, [], []))
    state, chat, _panel, fallback, widen = outs[-1][1:]
    assert state[-1].llm_failed and state[-1].answer is None
    assert chat[-1]["content"].startswith(
        "⚠️ The language model failed (HTTP 503): the server is overloaded")
    assert fallback["visible"] is True
    outs = run(ctl.reask_extractive(state, 5, [], []))
    state, chat, panel, fallback, widen = outs[-1]
    assert len(state) == 1 and state[0].answer is not None
    assert state[0].answer.mode == "extractive" and state[0].answer.citations
    assert fallback["visible"] is False and '<mark class="qa-hl">' in panel
    assert widen["visible"] is False


def test_controller_a_filtered_refusal_offers_to_search_all_articles(  # type: ignore[no-untyped-def]
        sample_bot) -> None:
    from ui import ChatController

    ctl = ChatController(sample_bot, sample_bot.settings)
    q = "Why did Lively drop the distress claim?"
    outs = run(ctl.respond(q, [], "extractive", 5, [], ["Fox News Digital"]))
    state, chat, _panel, _fallback, widen = outs[-1][1:]
    assert state[-1].answer.refused and state[-1].scope == "publication Fox News Digital"
    assert "only publication Fox News Digital" in chat[-1]["content"]
    assert widen["visible"] is True
    outs = run(ctl.search_all(state, 5))
    state, chat, _panel, _fallback, widen = outs[-1]
    assert len(state) == 1 and not state[0].answer.refused and state[0].scope == ""
    assert "[1]" in chat[-1]["content"] and widen["visible"] is False


def test_controller_labels_a_fallback_answer(sample_bot) -> None:  # type: ignore[no-untyped-def]
    ex = sample_bot.ask("Why did Lively drop the distress claim?")
    fell = replace(ex, warnings=("the LLM failed (HTTP 500); answered extractively",))
    ctl = llm_controller(sample_bot, ScriptedLLM([], fell))
    outs = run(ctl.respond("Why did Lively drop the distress claim?", [], "llm", 5, [], []))
    assert outs[-1][2][-1]["content"].startswith("**The language model failed** (the LLM failed "
                                                 "(HTTP 500); answered extractively)")


def test_controller_extractive_without_llm_and_errors_as_messages(  # type: ignore[no-untyped-def]
        sample_bot, tmp_path) -> None:
    from ui import ChatController

    ctl = ChatController(sample_bot, sample_bot.settings.replace(store_path=str(tmp_path)))
    assert not ctl.llm_ok and ctl.default_mode == "extractive"
    outs = run(ctl.respond("Why did Lively drop the distress claim?", [], "llm", 3, [], []))
    t = outs[-1][1][-1]
    assert t.requested_mode == "extractive" and t.answer is not None  # llm not offered
    long_q = "why " * 400
    outs = run(ctl.respond(long_q, [], "extractive", 3, [], []))
    assert "characters long; the limit is 1000" in outs[-1][2][-1]["content"]
    assert ctl.history_of(outs[-1][1]) == ()
    # a thumb writes a row to <store>/feedback.jsonl with the turn's history
    first = run(ctl.respond("Why did Lively drop the distress claim?", [], "extractive", 3,
                            [], []))[-1][1]
    two = run(ctl.respond("Who is Baldoni's lawyer?", first, "extractive", 3, [], []))[-1][1]
    row, *_ = ctl.rate(two, 3, "Dislike", 3, [], [])
    assert row.rating == "down" and row.history == ("Why did Lively drop the distress claim?",)
    assert read_feedback(tmp_path / "feedback.jsonl")[0]["question"] == "Who is Baldoni's lawyer?"


def test_controller_scope_filters_reach_retrieval(  # type: ignore[no-untyped-def]
        sample_bot) -> None:
    from ui import ChatController

    ctl = ChatController(sample_bot, sample_bot.settings)
    infos = sample_bot.articles()
    only = infos[0].meta.article_id
    outs = run(ctl.respond("Why did Lively drop the distress claim?", [], "extractive", 5,
                           [only], []))
    ans = outs[-1][1][-1].answer
    assert ans is not None and ans.passages
    assert {p.article.article_id for p in ans.passages} == {only}


def test_a_many_article_upload_is_kept_when_any_of_its_articles_is_stored() -> None:
    """A JSONL upload whose last record was a duplicate keeps its file: the other records'
    articles are read from it."""
    from types import SimpleNamespace as R

    from ui import file_statuses

    rows = [R(path="/u/wire.jsonl#0", status="added"), R(path="/u/wire.jsonl#1", status="duplicate"),
            R(path="/u/bad.txt", status="failed"), R(path="/u/two.jsonl", status="failed"),
            R(path="/u/two.jsonl", status="unchanged")]
    assert file_statuses(rows) == {"/u/wire.jsonl": "added", "/u/bad.txt": "failed",
                                   "/u/two.jsonl": "unchanged"}


def test_a_jsonl_upload_keeps_its_stored_file(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Its results name "FILE#N" per record: the file itself must not be taken for failed."""
    import json as _json

    from qa import Assistant, Settings
    from ui import ChatController, uploads_dir

    settings = Settings(store_path=str(tmp_path / "store"))
    bot = Assistant.open(settings, embedder=embedder)
    src = tmp_path / "in" / "wire.jsonl"
    src.parent.mkdir()
    src.write_text("".join(_json.dumps({"title": f"Story {i}", "url": f"https://wire.test/{i}",
                                        "text": f"Story {i}. The ferry to Osk island {i} was late."})
                           + "\n" for i in range(5)), encoding="utf-8")
    report = ChatController(bot, settings).ingest_uploads([str(src)], None)[0]
    assert report.count("added") >= 5
    kept = uploads_dir(settings) / "wire.jsonl"
    assert kept.exists() and kept.read_bytes() == src.read_bytes()
    bot.close()


def test_deleting_uploaded_articles_removes_their_stored_files(tmp_path: Path, embedder  # type: ignore[no-untyped-def]
                                                               ) -> None:
    """Whatever the article's id (its URL, a JSONL record's FILE#N, a path), deleting the last
    article of an uploaded file deletes our copy of it; no file is left under the store."""
    import json as _json

    from qa import Assistant, Settings
    from ui import ChatController, uploads_dir

    settings = Settings(store_path=str(tmp_path / "store"))
    bot = Assistant.open(settings, embedder=embedder)
    src = tmp_path / "in"
    src.mkdir()
    (src / "wire.jsonl").write_text("".join(
        _json.dumps({"title": f"Story {i}", "text": f"Story {i}. The ferry to Osk {i} was late."})
        + "\n" for i in range(2)), encoding="utf-8")
    (src / "page.html").write_text(
        "<html><head><title>Harbour news</title><link rel='canonical' href='https://news.test/"
        "harbour'></head><body><article><p>The harbour master of Port Quellin said on Monday "
        "that the new ferry would sail from the eastern quay from next spring, weather "
        "permitting, and that fares would not rise this year.</p></article></body></html>",
        encoding="utf-8")
    (src / "note.txt").write_text("The Osk lighthouse was repainted in May by volunteers.",
                                  encoding="utf-8")
    ctl = ChatController(bot, settings)
    ctl.ingest_uploads([str(p) for p in sorted(src.iterdir())], None)
    up = uploads_dir(settings)
    assert sorted(p.name for p in up.iterdir()) == ["note.txt", "page.html", "wire.jsonl"]
    by_file: dict[str, list[str]] = {}
    for info in bot.articles():
        by_file.setdefault(Path(info.meta.path.split("#")[0]).name, []).append(
            info.meta.article_id)
    assert by_file["page.html"] == ["https://news.test/harbour"]  # its id is the URL
    first, second = by_file["wire.jsonl"]
    ctl.delete(first, None)
    assert (up / "wire.jsonl").exists()  # the other record still comes from it
    for aid in (second, *by_file["page.html"], *by_file["note.txt"]):
        ctl.delete(aid, None)
    assert list(up.iterdir()) == [] and bot.articles() == []
    bot.close()
