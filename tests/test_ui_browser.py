"""The browser chat in a real browser: Debian chromium driven by Playwright, one app per module.

The app runs in-process on a free 127.0.0.1 port over a temporary store with the sample
articles (plus one article full of HTML/JS, which must render as inert text). Screenshots go to
test-artifacts/; UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/screenshot.png.

Needs /usr/bin/chromium (`apt-get install -y chromium`); `playwright install` is never used.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import ROOT, free_port, make_bot
from tests.documents import PDF_ANSWER, PDF_QUESTION, harbour_pdf, press_release_docx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
MISSION = "Why did Lively drop the distress claim?"
XSS_ARTICLE = (
    "Quenby harbour festival <script>window.__xss=1</script> report\n\n"
    'The Quenby harbour festival drew 4,000 visitors to the <img src=x onerror="window.__xss=2"> '
    "waterfront <script>window.__xss=3</script> on Saturday.\n"
    "Organisers said the lantern parade <script>alert(1)</script> was the highlight of the "
    "Quenby harbour festival this year.\n"
    "The festival returns next summer with a longer lantern parade <img src=x onerror=alert(1)>.\n"
)
XSS_QUESTION = "How many visitors did the Quenby harbour festival draw?"
UPLOAD_FACT = (
    "Marisol Vantongeren wins the Quillfeather Prize\n\n"
    "The Quillfeather Prize for river cartography was awarded to Marisol Vantongeren on Tuesday "
    "for her survey of the Oster delta.\n"
    "The jury praised the survey's hand-drawn maps of forty-one tidal channels.\n"
)
UPLOAD_QUESTION = "Who was awarded the Quillfeather Prize?"

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder, sample_dir: Path
           ) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The app over the samples + the XSS article, served on a free loopback port."""
    import ui

    tmp = tmp_path_factory.mktemp("ui")
    xss_dir = tmp / "xss"
    xss_dir.mkdir()
    (xss_dir / "quenby_festival.txt").write_text(XSS_ARTICLE, encoding="utf-8")
    # passages of 192 tokens (not the default whole articles): the four articles then make the
    # twenty-odd source cards the top-k-20 test scrolls through
    bot = make_bot(tmp, embedder, chunk_tokens=192, chunk_overlap=64)
    report = bot.ingest([sample_dir, xss_dir])
    assert report.ok and report.count("added") == 4, report.summary()
    app = ui.build_app(bot, bot.settings)
    port = free_port()
    ui.launch(app, bot.settings, host="127.0.0.1", port=port, prevent_thread_lock=True,
              quiet=True)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "bot": bot, "tmp": tmp,
               "feedback": Path(bot.settings.store_path) / "feedback.jsonl"}
    finally:
        app.close()


@pytest.fixture(scope="module")
def browser(served: dict[str, Any]) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium` (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A tab on the app that records dialogs and page errors."""

    def __init__(self, browser: Any, url: str, width: int = 1400, height: int = 950,
                 **context: Any) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           **context)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_selector("#qa-chat")
        self.page.wait_for_selector("#qa-input textarea")

    def _on_dialog(self, d: Any) -> None:
        self.dialogs.append(d.message)
        d.dismiss()

    def ask(self, question: str, n_answers: int, timeout: float = 30_000) -> str:
        """Type and send a question; wait for the n-th answer to be final; return its text."""
        pg = self.page
        pg.fill("#qa-input textarea", question)
        pg.click("#qa-ask")
        pg.wait_for_function(
            """n => {
                const b = document.querySelectorAll('#qa-chat [data-testid="bot"]');
                if (b.length < n) return false;
                const t = b[n - 1].innerText;
                return t.length > 0 && !t.includes('Searching the articles') && !t.endsWith('▌');
            }""", arg=n_answers, timeout=timeout)
        return self.bot_text(n_answers - 1)

    def bot_text(self, i: int) -> str:
        return str(self.page.locator('#qa-chat [data-testid="bot"]').nth(i).inner_text())

    def user_texts(self) -> list[str]:
        return [t.strip() for t in
                self.page.locator('#qa-chat [data-testid="user"]').all_inner_texts()]

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def close(self) -> None:
        self.context.close()


def flat(s: str) -> str:
    return " ".join(s.split())


@pytest.fixture()
def tab(browser: Any, served: dict[str, Any]) -> Iterator[Page]:
    p = Page(browser, served["url"])
    yield p
    p.close()


WIDTHS = [(1400, 950), (390, 844)]  # a desktop window and a phone


@pytest.fixture(params=WIDTHS, ids=["1400px", "390px"])
def sized_tab(request: pytest.FixtureRequest, browser: Any, served: dict[str, Any]
              ) -> Iterator[Page]:
    """A tab at each of the two widths the chat must work at."""
    width, height = request.param
    p = Page(browser, served["url"], width=width, height=height)
    yield p
    p.close()


# -- chat ---------------------------------------------------------------------------------------
def test_mission_question_streams_a_cited_answer(tab: Page, served: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bot = served["bot"]
    expected = bot.ask(MISSION)
    assert not expected.refused and expected.citations
    # An extractive answer is ready in milliseconds; the browser may then draw only the last
    # state (its renderer batches updates that arrive together, which it did once under load).
    # Pace the real stream so each state has time to be drawn: what is tested is that the chat
    # shows the states it is sent, not how fast the answer is.
    real_stream = bot.stream

    def paced(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for item in real_stream(*args, **kwargs):
            time.sleep(0.4)
            yield item

    monkeypatch.setattr(bot, "stream", paced)
    pg = tab.page
    pg.evaluate("""() => {
        window.__states = [];
        new MutationObserver(() => {
            const b = document.querySelectorAll('#qa-chat [data-testid="bot"]');
            if (b.length) window.__states.push(b[b.length - 1].innerText);
        }).observe(document.getElementById('qa-chat'),
                   {childList: true, subtree: true, characterData: true});
    }""")
    text = tab.ask(MISSION, 1)
    assert "[1]" in text
    assert flat(text) == flat(expected.text)
    states = pg.evaluate("window.__states")
    # streamed: a placeholder and/or the partial text (▌) showed before the final answer
    assert any("Searching the articles" in s or s.rstrip().endswith("▌") for s in states), states
    assert not text.rstrip().endswith("▌")
    assert pg.locator("#qa-chat .qa-cite").count() == len(re.findall(r"\[\d+\]", expected.text))
    meta = pg.locator("#qa-sources section.qa-turn:not([hidden]) .qa-turn-meta").inner_text()
    assert re.match(r"extractive · \d+\.\d\d s · \d+ sources?", meta), meta

    # thumbs up, then a comment: two rows with the same feedback id
    pg.locator('#qa-chat button[aria-label="Like"]').first.click()
    pg.wait_for_selector("#qa-comment textarea", state="visible")
    pg.fill("#qa-comment textarea", "Good quotes.")
    pg.click("#qa-comment-send")
    pg.wait_for_function(
        "() => document.querySelector('#qa-feedback-status').innerText"
        ".includes('comment is saved')")
    rows = [json.loads(x) for x in served["feedback"].read_text(encoding="utf-8").splitlines()]
    mine = [r for r in rows if r["question"] == MISSION]
    assert [r["rating"] for r in mine[-2:]] == ["up", "up"]
    assert mine[-1]["comment"] == "Good quotes." and mine[-1]["feedback_id"] == mine[-2][
        "feedback_id"]
    assert mine[-1]["answer"] == expected.text and mine[-1]["mode"] == "extractive"
    assert [c["quote"] for c in mine[-1]["citations"]] == [c.quote for c in expected.citations]
    tab.shot("ui-mission")


def test_clicking_a_marker_opens_the_whole_article_at_the_cited_sentence(
        sized_tab: Page, served: dict[str, Any]) -> None:
    tab = sized_tab
    expected = served["bot"].ask(MISSION)
    tab.ask(MISSION, 1)
    pg = tab.page
    last = expected.citations[-1]
    pg.locator(f'#qa-chat .qa-cite[data-n="{last.number}"]').first.click()
    item = pg.locator(f"#qa-src-0-{last.number}")
    card = item.locator("xpath=ancestor::details[1]")
    assert card.get_attribute("open") is not None  # its article's card opened
    pg.wait_for_function(  # and came into view (on a phone the panel is below the chat)
        """n => { const r = document.getElementById('qa-src-0-' + n)
                     .closest('details').getBoundingClientRect();
                  return r.top < window.innerHeight && r.bottom > 0; }""",
        arg=last.number, timeout=5_000)
    mark = item.locator("mark.qa-hl")
    mark.wait_for(state="visible")
    assert flat(mark.inner_text()) == flat(last.quote)
    head = flat(card.locator("summary").inner_text())
    assert last.article.title[:40] in head
    if last.article.source:
        assert last.article.source in head
    where = item.locator(".qa-where").inner_text()
    assert (last.article.url or Path(last.article.path).name) in where
    assert str(Path(last.article.path).parent) not in where  # never a server path
    assert f"chars {last.start}–{last.end}" in where
    # the whole article, scrolled to the cited sentence, every cited sentence of it marked
    reader = card.locator(".qa-reader")
    text = served["bot"].article_text(last.article.article_id)
    assert flat(reader.inner_text()).startswith(flat(text)[:60])
    read = pg.locator(f"#qa-read-0-{last.number}")
    assert flat(read.inner_text()) == flat(last.quote)
    in_view = read.evaluate("""m => { const r = m.closest('.qa-reader').getBoundingClientRect();
        const b = m.getBoundingClientRect(); return b.top >= r.top && b.bottom <= r.bottom; }""")
    assert in_view
    same = [c for c in expected.citations if c.article.article_id == last.article.article_id]
    assert reader.locator("mark.qa-hl").count() == len({(c.start, c.end) for c in same})
    cards = pg.locator("#qa-sources section.qa-turn:not([hidden]) details.qa-art")
    assert cards.count() == len({c.article.article_id for c in expected.citations})
    wide = pg.viewport_size["width"] >= 1000
    tab.shot("ui-citation" if wide else "ui-citation-390")
    if wide and os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":  # the README picture
        best = next((c for c in expected.citations if "streamline" in c.quote), last)
        pg.locator(f'#qa-chat .qa-cite[data-n="{best.number}"]').first.click()
        pg.wait_for_timeout(1800)  # after the card's highlight flash
        pg.screenshot(path=str(ROOT / "docs" / "screenshot.png"))

    # a card opens by itself too, and a cited sentence in it shows its place in the article
    first = expected.citations[0]
    if first.article.article_id != last.article.article_id:
        first_card = pg.locator(f"#qa-src-0-{first.number}").locator("xpath=ancestor::details[1]")
        first_card.locator("summary").click()
        m = pg.locator(f"#qa-src-0-{first.number} mark.qa-hl")
        m.wait_for(state="visible")
        assert flat(m.inner_text()) == flat(first.quote)
        m.click()
        pg.locator(f"#qa-read-0-{first.number}").wait_for(state="visible")


def test_refusal_is_one_line_and_offers_the_closest_passages_in_the_panel(sized_tab: Page
                                                                          ) -> None:
    tab = sized_tab
    text = tab.ask("What is the capital of France?", 1)
    assert flat(text) == "The articles don't say. The closest passages are in the Sources panel."
    assert "You may be looking for" in tab.page.locator("#qa-sources").inner_text()
    assert tab.page.locator("#qa-sources details.qa-near").count() >= 1
    assert not tab.page.locator("#qa-search-all").is_visible()


@pytest.mark.parametrize(("width", "height"), WIDTHS, ids=["1400px", "390px"])
def test_every_source_card_can_be_reached_at_top_k_20_with_the_settings_open(
        browser: Any, served: dict[str, Any], width: int, height: int) -> None:
    tab = Page(browser, served["url"], width=width, height=height)
    try:
        pg = tab.page
        pg.locator("#qa-settings").get_by_text("Answer settings").click()
        slider = pg.locator("#qa-topk input[type=range]")
        slider.wait_for(state="visible")
        box = pg.locator("#qa-topk input[type=number]")
        for _ in range(3):
            # as a keyboard user sets it: End on the focused slider moves it to its maximum (20)
            # with the browser's own input and change events. Filling the range input (the way
            # before) left it at 5 in two clean-clone runs of many, at 390 px: the number box
            # kept the old value, or the question went out with it
            slider.scroll_into_view_if_needed()
            slider.focus()
            slider.press("End")
            try:
                pg.wait_for_function("() => document.querySelector("
                                     "'#qa-topk input[type=number]').value === '20'",
                                     timeout=5_000)
                break
            except PlaywrightTimeout:
                continue
        assert box.input_value() == "20"
        assert slider.input_value() == "20"
        pg.wait_for_timeout(300)
        tab.ask("What is the capital of France?", 1)  # a refusal lists the closest passages
        cards = pg.locator("#qa-sources details.qa-near")
        n = cards.count()
        assert n >= 15, n
        for i in range(n):
            summary = cards.nth(i).locator("summary")
            summary.scroll_into_view_if_needed()
            covered = pg.evaluate("""el => {
                const r = el.getBoundingClientRect();
                const x = r.left + Math.min(40, r.width / 2), y = r.top + r.height / 2;
                if (y < 0 || y > window.innerHeight || x < 0 || x > window.innerWidth) return 'out of view';
                const hit = document.elementFromPoint(x, y);
                return hit && el.contains(hit) ? '' : 'covered by ' + (hit ? hit.outerHTML.slice(0, 80) : 'nothing');
            }""", summary.element_handle())
            assert covered == "", (i, covered)
            summary.click()
            assert cards.nth(i).evaluate("d => d.open"), i
        tab.shot(f"ui-sources-top20-{width}")
    finally:
        tab.close()


def test_a_question_typed_while_one_is_answered_is_kept_and_answered_next(sized_tab: Page
                                                                          ) -> None:
    tab = sized_tab
    pg = tab.page
    box = pg.get_by_role("textbox", name="Question")  # its accessible name, not "Textbox"
    box.fill("Why did Lively drop the distress claim?")
    pg.get_by_role("button", name="Ask").click()
    # typed at once: the box is locked while the first is answered, so this waits for it
    # (a user sees the box greyed for the fraction of a second); nothing typed is wiped
    box.fill("Which judge denied Baldoni's motion?")
    assert box.input_value() == "Which judge denied Baldoni's motion?"
    pg.get_by_role("button", name="Ask").click()
    pg.wait_for_function(
        """() => {
            const b = document.querySelectorAll('#qa-chat [data-testid="bot"]');
            return b.length === 2 && Array.from(b).every(x => x.innerText.includes('1')
                && !x.innerText.includes('Searching the articles'));
        }""", timeout=30_000)
    assert tab.user_texts() == ["Why did Lively drop the distress claim?",
                                "Which judge denied Baldoni's motion?"]
    assert "Liman" in tab.bot_text(1)
    # markers are decorated on the next animation frame, and a late re-render of the chat
    # (under load) undoes it until the frame after: poll for the named buttons
    deadline = time.monotonic() + 15
    while pg.get_by_role("button", name="Source 1").count() < 2:  # markers are named too
        assert time.monotonic() < deadline, "the markers of both answers were never named"
        pg.wait_for_timeout(100)
    assert box.input_value() == ""


def test_a_refusal_under_a_filter_says_so_and_searches_all_articles(sized_tab: Page) -> None:
    tab = sized_tab
    pg = tab.page
    pg.locator("#qa-settings").get_by_text("Answer settings").click()
    pg.click("#qa-src-filter input")
    pg.get_by_role("option", name="Fox News Digital").click()
    pg.keyboard.press("Escape")
    pg.locator("#qa-settings").get_by_text("Answer settings").click()  # settings closed again
    text = tab.ask("Why did Lively drop the distress claim?", 1)
    assert "The articles searched don't say (only publication Fox News Digital)" in flat(text)
    tab.shot(f"ui-refusal-under-filter-{pg.viewport_size['width']}")
    pg.click("#qa-search-all")
    pg.wait_for_function(
        """() => {
            const b = document.querySelectorAll('#qa-chat [data-testid="bot"]');
            const t = b.length ? b[b.length - 1].innerText : '';
            return b.length === 1 && t.includes('1') && !t.includes("don't say")
                   && !t.includes('Searching the articles');
        }""", timeout=30_000)
    assert "[1]" in tab.bot_text(0) or pg.locator("#qa-chat .qa-cite").count() >= 1
    assert not pg.locator("#qa-search-all").is_visible()
    chosen = pg.locator("#qa-src-filter").inner_text()
    assert "Fox News Digital" not in chosen  # the filter was cleared with it


# -- copy, export, a reload ---------------------------------------------------------------------
@pytest.mark.parametrize(("width", "height"), WIDTHS, ids=["1400px", "390px"])
def test_copy_and_export_keep_the_sources_and_a_reload_keeps_the_conversation(
        browser: Any, served: dict[str, Any], tmp_path: Path, width: int, height: int) -> None:
    tab = Page(browser, served["url"], width=width, height=height,
               permissions=["clipboard-read", "clipboard-write"])
    try:
        pg = tab.page
        expected = served["bot"].ask(MISSION)
        tab.ask(MISSION, 1)
        follow = served["bot"].ask("Which judge denied Baldoni's motion?")
        tab.ask("Which judge denied Baldoni's motion?", 2)
        clip = "() => navigator.clipboard.readText()"

        # the chat's own copy button on the first answer: text, then numbered sources
        copy = pg.locator("#qa-chat button[aria-label='Copy message']")
        assert copy.count() == 4  # one per message: question, answer, question, answer
        pg.evaluate("() => navigator.clipboard.writeText('')")
        copy.nth(1).click()
        pg.wait_for_function(f"async () => ({clip})().then(t => t.length > 0)")
        copied = pg.evaluate(clip)
        assert copied.startswith(expected.text.strip()[:40])
        for c in expected.citations:
            assert f"[{c.number}] " in copied and f"“{c.quote}”" in copied
            assert c.article.title in copied
        assert "/" + "tmp" not in copied  # a file name, never a server path
        tab.shot(f"ui-copied-{width}")

        # the panel's button for the second answer
        pg.evaluate("() => navigator.clipboard.writeText('')")
        pg.locator('#qa-sources section.qa-turn[data-turn="1"] .qa-copy').click()
        pg.wait_for_function(f"async () => ({clip})().then(t => t.length > 0)")
        copied = pg.evaluate(clip)
        assert all(f"“{c.quote}”" in copied for c in follow.citations)

        # the whole conversation as Markdown
        with pg.expect_download() as dl:
            pg.click("#qa-export")
        saved = tmp_path / "conversation.md"
        dl.value.save_as(saved)
        md = saved.read_text(encoding="utf-8")
        assert md.startswith("# Article QA conversation") and md.count("\n## ") == 2
        for ans in (expected, follow):
            for c in ans.citations:
                assert c.quote.replace("*", "\\*")[:60] in md or c.quote[:60] in md

        # a reload keeps the conversation, answers and sources alike
        pg.reload()
        pg.wait_for_function(
            "() => document.querySelectorAll('#qa-chat [data-testid=\"bot\"]').length === 2",
            timeout=20_000)
        assert "[1]" in tab.bot_text(0)
        assert pg.locator("#qa-sources section.qa-turn").count() == 2
        pg.locator('#qa-chat .qa-cite[data-n="1"]').first.click()
        mark = pg.locator("#qa-src-0-1 mark.qa-hl")
        mark.wait_for(state="visible")
        assert flat(mark.inner_text()) == flat(expected.citations[0].quote)
        tab.shot(f"ui-reloaded-{width}")

        # "Clear chat" starts a new one, and a reload does not bring the old one back
        pg.click("#qa-clear")
        pg.wait_for_function(
            "() => !document.querySelector('#qa-chat [data-testid=\"bot\"]')")
        pg.wait_for_timeout(500)
        pg.reload()
        pg.wait_for_selector("#qa-input textarea")
        pg.wait_for_timeout(1500)
        assert pg.locator('#qa-chat [data-testid="bot"]').count() == 0
        assert not pg.locator("#qa-export").is_visible()
    finally:
        tab.close()


# -- library ------------------------------------------------------------------------------------
def choose_files(tab: Page, files: list[Path]) -> None:
    """Choose files in the Library's upload widget and wait until it lists the last one.

    A file chosen while the freshly shown tab is still mounting its upload widget can be
    dropped by the browser side (seen about once in ten full-suite runs, more on a busy
    machine); a user would choose it again, and so does the test, at most twice more.
    """
    pg = tab.page
    pg.get_by_role("tab", name="Library").click()
    pg.locator("#qa-upload").wait_for(state="visible")
    for attempt in range(3):
        pg.set_input_files("#qa-upload input[type=file]", [str(f) for f in files])
        try:
            # the widget shows a name's stem and extension apart ("release" / ".docx")
            pg.wait_for_function("n => document.querySelector('#qa-upload').innerText"
                                 ".includes(n)", arg=files[-1].stem, timeout=20_000)
            return
        except Exception:
            tab.shot(f"ui-upload-not-shown-{attempt}")
            if attempt == 2:
                raise

def test_uploaded_article_is_answered_from_and_can_be_deleted(
        tab: Page, served: dict[str, Any]) -> None:
    up = served["tmp"] / "to-upload"
    up.mkdir(exist_ok=True)
    fact = up / "quillfeather.txt"
    fact.write_text(UPLOAD_FACT, encoding="utf-8")
    pg = tab.page
    choose_files(tab, [fact])
    pg.click("#qa-ingest")
    pg.wait_for_function(
        "() => document.querySelector('#qa-report').innerText.includes('1 added')",
        timeout=60_000)
    report = pg.locator("#qa-report").inner_text()
    assert "quillfeather.txt" in report and "added" in report
    pg.wait_for_function(
        "() => document.querySelector('#qa-library').innerText.includes('Quillfeather')")
    tab.shot("ui-upload")

    pg.get_by_role("tab", name="Chat").click()
    text = tab.ask(UPLOAD_QUESTION, 1)
    assert "Marisol Vantongeren" in text and "[1]" in text
    pg.locator('#qa-chat .qa-cite[data-n="1"]').first.click()
    card = pg.locator("#qa-src-0-1")
    assert "quillfeather.txt" in card.locator(".qa-where").inner_text()
    assert "Marisol Vantongeren" in card.locator("mark.qa-hl").inner_text()

    # delete it again (two steps), and it is gone from the library and from answers
    bot = served["bot"]
    aid = next(i.meta.article_id for i in bot.articles() if i.meta.path.endswith(
        "quillfeather.txt"))
    pg.get_by_role("tab", name="Library").click()
    row = pg.locator("#qa-library tr", has_text="Quillfeather")
    row.locator("button.qa-lib-del").click()  # its own row's Delete…, then the confirmation
    pg.wait_for_function("() => document.querySelector('#qa-del-status').innerText"
                         ".includes('Quillfeather')")
    pg.click("#qa-del-confirm")
    pg.wait_for_function(
        "() => document.querySelector('#qa-del-status').innerText.includes('Deleted')")
    pg.wait_for_function(
        "() => !document.querySelector('#qa-library').innerText.includes('Quillfeather')")
    assert all(i.meta.article_id != aid for i in bot.articles())
    assert "Marisol" not in bot.ask(UPLOAD_QUESTION).text


def test_the_library_reads_well_sorts_and_opens_an_article(sized_tab: Page,
                                                            served: dict[str, Any]) -> None:
    tab = sized_tab
    pg = tab.page
    pg.get_by_role("tab", name="Library").click()
    table = pg.locator("#qa-library table.qa-lib")
    table.wait_for(state="visible")
    head = table.locator("thead").inner_text()
    assert "Passages" in head and "Chunks" not in head and "Id" not in head.split()
    font = table.evaluate("t => getComputedStyle(t).fontFamily")
    assert "mono" not in font.lower()
    assert str(Path(served["bot"].articles()[0].meta.path).parent) not in table.inner_text()
    sort = pg.locator("#qa-lib-sort")
    first_is_daily_mail = """() => {
        const r = document.querySelector('#qa-library tbody tr');
        return r && r.innerText.includes('Daily Mail'); }"""
    sort.get_by_text("Publication", exact=True).click()  # sort by it
    try:
        pg.wait_for_function(first_is_daily_mail, timeout=5_000)
    except PlaywrightTimeout:  # the page's first refresh of the table may land after the click
        sort.get_by_text("Title", exact=True).click()
        sort.get_by_text("Publication", exact=True).click()
        pg.wait_for_function(first_is_daily_mail)
    row = pg.locator("#qa-library tbody tr").first
    row.locator("td.qa-lib-act button.qa-lib-open").click()
    reader = pg.locator("#qa-lib-reader .qa-reader")
    reader.wait_for(state="visible")
    info = next(i for i in served["bot"].articles() if i.meta.source == "Daily Mail")
    text = served["bot"].article_text(info.meta.article_id)
    assert flat(reader.inner_text()) == flat(text)
    assert "Daily Mail" in pg.locator("#qa-lib-reader .qa-pub").inner_text()
    if pg.viewport_size["width"] < 500:  # a phone: no header row, each article a card
        assert not table.locator("thead").is_visible()
        label = row.locator("td[data-label='Publication']").evaluate(
            "td => getComputedStyle(td, '::before').content")
        assert "Publication" in label
    tab.shot(f"ui-library-{pg.viewport_size['width']}")


def test_pdf_and_docx_uploads_are_ingested_and_the_pdf_page_is_cited(
        tab: Page, served: dict[str, Any]) -> None:
    up = served["tmp"] / "to-upload-docs"
    up.mkdir(exist_ok=True)
    files = [harbour_pdf(up / "harbour-report.pdf"), press_release_docx(up / "release.docx")]
    pg = tab.page
    choose_files(tab, files)
    pg.click("#qa-ingest")
    pg.wait_for_function(
        "() => document.querySelector('#qa-report').innerText.includes('2 added')",
        timeout=60_000)
    report = pg.locator("#qa-report").inner_text()
    assert "harbour-report.pdf" in report and "release.docx" in report
    pg.wait_for_function(
        "() => document.querySelector('#qa-library').innerText.includes('Harbour Board')")
    tab.shot("ui-upload-pdf-docx")

    pg.get_by_role("tab", name="Chat").click()
    text = tab.ask(PDF_QUESTION, 1)
    assert PDF_ANSWER in text and "[1]" in text
    pg.locator('#qa-chat .qa-cite[data-n="1"]').first.click()
    card = pg.locator("#qa-src-0-1")
    where = card.locator(".qa-where").inner_text()
    assert "harbour-report.pdf" in where and "p. 3" in where
    assert PDF_ANSWER in card.locator("mark.qa-hl").inner_text()
    tab.shot("ui-pdf-citation")
    bot = served["bot"]
    for info in bot.articles():  # leave the shared store as the other tests expect it
        if info.meta.path.endswith(("harbour-report.pdf", "release.docx")):
            bot.delete_article(info.meta.article_id)


def test_unsupported_upload_type_is_refused_with_a_reason(tab: Page, served: dict[str, Any]
                                                          ) -> None:
    """The browser refuses it before upload, naming the allowed types (server-side staging
    refuses it too: see test_ui_render.test_upload_staging_rejects_and_restores)."""
    bad = served["tmp"] / "sheet.xlsx"
    bad.write_bytes(b"PK\x03\x04 not an article")
    n_before = len(served["bot"].articles())
    pg = tab.page
    pg.get_by_role("tab", name="Library").click()
    pg.set_input_files("#qa-upload input[type=file]", [str(bad)])
    pg.wait_for_function(
        "() => document.body.innerText.includes('Invalid file type: sheet.xlsx. Only .txt, .md, "
        ".html, .htm, .pdf, .docx, .json, .jsonl allowed.')", timeout=15_000)
    tab.shot("ui-bad-upload")
    pg.click("#qa-ingest")
    pg.wait_for_function(
        "() => document.querySelector('#qa-report').innerText.includes('Choose files first')")
    assert len(served["bot"].articles()) == n_before


# -- safety -------------------------------------------------------------------------------------
def test_html_in_articles_is_shown_as_text_and_never_runs(tab: Page, served: dict[str, Any]
                                                          ) -> None:
    expected = served["bot"].ask(XSS_QUESTION)
    assert not expected.refused and "<script>" in expected.text, expected.text
    pg = tab.page
    text = tab.ask(XSS_QUESTION, 1)
    assert flat(text) == flat(expected.text)  # the characters are visible, as typed
    pg.locator('#qa-chat .qa-cite[data-n="1"]').first.click()
    card = pg.locator("#qa-src-0-1").locator("xpath=ancestor::details[1]")
    passage = card.locator(".qa-reader").inner_text()  # the whole article, as text
    assert "<script>window.__xss=1</script>" in passage or '<img src=x onerror="window.__xss=2">' \
        in passage
    pg.get_by_role("tab", name="Library").click()
    pg.wait_for_function(
        "() => document.querySelector('#qa-library').innerText.includes('Quenby')")
    assert "<script>" in pg.locator("#qa-library").inner_text()
    pg.get_by_role("tab", name="Chat").click()
    tab.ask("<img src=x onerror=alert(1)> <script>alert(2)</script>?", 2)
    assert "<img src=x onerror=alert(1)>" in tab.user_texts()[-1]
    pg.wait_for_timeout(300)  # give any injected handler a chance to fire
    tab.shot("ui-xss")
    assert pg.evaluate("typeof window.__xss") == "undefined"
    assert tab.dialogs == []
    assert pg.locator("#qa-chat img[src='x'], #qa-sources img, #qa-library img").count() == 0


def test_two_users_keep_separate_conversations(browser: Any, served: dict[str, Any]) -> None:
    a, b = Page(browser, served["url"]), Page(browser, served["url"])
    try:
        qa, qb = MISSION, "How much is Baldoni's countersuit for?"
        a.page.fill("#qa-input textarea", qa)
        b.page.fill("#qa-input textarea", qb)
        a.page.click("#qa-ask")  # both in flight at once: neither waits for the other
        b.page.click("#qa-ask")
        for p in (a, b):
            p.page.wait_for_function(
                "() => { const b = document.querySelectorAll('#qa-chat [data-testid=\"bot\"]');"
                " return b.length == 1 && b[0].innerText.includes('['); }", timeout=30_000)
        a.ask("Who is Baldoni's lawyer?", 2)
        assert a.user_texts() == [qa, "Who is Baldoni's lawyer?"]
        assert b.user_texts() == [qb]
        assert "400" in b.bot_text(0)
        a.shot("ui-two-users-a")
        b.shot("ui-two-users-b")
    finally:
        a.close()
        b.close()


# -- API ----------------------------------------------------------------------------------------
def test_api_ask_with_gradio_client(served: dict[str, Any]) -> None:
    from gradio_client import Client

    client = Client(served["url"], verbose=False)
    out = client.predict(MISSION, [], api_name="/ask")
    expected = served["bot"].ask(MISSION)
    assert out["text"] == expected.text and out["refused"] is False
    for c in out["citations"]:
        assert served["bot"].article_text(c["article_id"])[c["start"]:c["end"]] == c["quote"]
    follow = client.predict(question="Who is Baldoni's lawyer?", history=[MISSION],
                            api_name="/ask")
    assert "Freedman" in follow["text"]
    with pytest.raises(Exception, match="question is empty"):
        client.predict(question="  ", api_name="/ask")
