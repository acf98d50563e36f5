"""The browser chat (Gradio): wires Settings and an Assistant to components.

    qa ui                          # http://127.0.0.1:7860
    qa ui --ingest data/articles   # ingest first, then serve

Rendering lives in qa/ui_render.py (everything from articles is escaped there), feedback rows
in qa/feedback.py. Tests build the app with `build_app(...)` and start it with `launch(...)`.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported

import logging
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from qa import ui_assets
from qa.errors import ConfigError, LLMError, QAError
from qa.feedback import Feedback, append_feedback, feedback_path
from qa.persist import from_json, to_json
from qa.settings import Settings
from qa.types import Answer
from qa.ui_render import (
    LIBRARY_SORTS,
    ChatTurn,
    answer_payload,
    article_choices,
    article_reader_html,
    chat_messages,
    conversation_markdown,
    esc,
    ingest_report_html,
    library_html,
    rejected_html,
    scope_label,
    source_choices,
    sources_html,
)

log = logging.getLogger("qa.ui")

UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl")
EXAMPLES = (
    "Why did Lively drop the distress claim?",
    "Who is Baldoni's lawyer?",
    "How much is Baldoni's countersuit for?",
    "Why was Taylor Swift dragged into the dispute?",
)
MODE_LABELS = {"extractive": "Extractive — quoted sentences, works offline", "llm": "LLM"}


# -- wiring helpers -----------------------------------------------------------------------------
def caller_error(message: str) -> gr.Error:
    """An API caller's mistake (an empty store, a bad argument): one log line, no traceback.

    Gradio prints a full traceback for every other exception: on a store that is still empty,
    each question would add 3 KB of them to the server's console.
    """
    log.info("question not answered: %s", message)
    return gr.Error(message, print_exception=False)


def auth_from_env(env: Mapping[str, str] | None = None) -> list[tuple[str, str]] | None:
    """Logins from QA_UI_USER + QA_UI_PASSWORD and/or QA_UI_AUTH_FILE (user:password lines)."""
    env = os.environ if env is None else env
    pairs: list[tuple[str, str]] = []
    user, password = env.get("QA_UI_USER", ""), env.get("QA_UI_PASSWORD", "")
    if bool(user) != bool(password):
        raise ConfigError("Set both QA_UI_USER and QA_UI_PASSWORD (or neither) to require a login")
    if user:
        pairs.append((user, password))
    auth_file = env.get("QA_UI_AUTH_FILE", "")
    if auth_file:
        p = Path(auth_file).expanduser()
        if not p.is_file():
            raise ConfigError(f"QA_UI_AUTH_FILE={auth_file} does not exist; give a file of "
                              "user:password lines")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            u, sep, pw = line.partition(":")
            if not sep or not u or not pw:
                raise ConfigError(f"{p}:{n}: expected user:password")
            pairs.append((u, pw))
    return pairs or None


def ui_secret(settings: Settings) -> str:
    """The key the browser-kept conversations are encrypted with: one per store, kept beside it
    (0600), so they stay readable across restarts of the chat; a fresh one when it cannot be
    kept."""
    import secrets

    folder = Path(settings.store_path).expanduser()
    path = folder / ".ui-secret"
    try:
        if path.is_file():
            key = path.read_text(encoding="ascii").strip()
            if len(key) >= 32:
                return key
        folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key)
        return key
    except OSError as e:
        log.warning("cannot keep the chat's key in %s (%s); conversations will not survive a "
                    "restart of the chat", folder, e)
        return secrets.token_hex(32)


def uploads_dir(settings: Settings) -> Path:
    """Uploaded files are kept here, so their article ids (paths) stay valid."""
    return Path(settings.store_path).expanduser() / "uploads"


def _stage_uploads(files: Sequence[str], settings: Settings
                   ) -> tuple[list[tuple[Path, bytes | None]], list[tuple[str, str]]]:
    """Copy accepted uploads into uploads_dir; returns (staged (path, previous bytes), rejected)."""
    staged: list[tuple[Path, bytes | None]] = []
    rejected: list[tuple[str, str]] = []
    dest = uploads_dir(settings)
    for f in files:
        src = Path(f)
        name = src.name
        if src.suffix.lower() not in UPLOAD_TYPES:
            rejected.append((name, f"unsupported type {src.suffix or '(none)'}; upload "
                                   + ", ".join(UPLOAD_TYPES)))
            continue
        size = src.stat().st_size
        if size > settings.max_file_bytes:
            too_big = (f"{human_bytes(size)} is over the {human_bytes(settings.max_file_bytes)}"
                       " limit (QA_MAX_FILE_BYTES)")
            rejected.append((name, too_big))
            continue
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / name
        previous = target.read_bytes() if target.exists() else None
        shutil.copyfile(src, target)
        staged.append((target, previous))
    return staged, rejected


def _remove_upload(path: str, other_paths: Sequence[str], settings: Settings) -> None:
    """Delete our stored copy of an upload once no stored article comes from it any more (an
    article's id may be its URL, and a JSONL upload holds many articles: `FILE#N`)."""
    p = Path(path.split("#", 1)[0])
    up = uploads_dir(settings).resolve()
    if p.parent.resolve() != up or not p.is_file():
        return
    if any(Path(o.split("#", 1)[0]) == p for o in other_paths):
        return
    p.unlink()


def _remove_gradio_uploads(files: Sequence[str]) -> None:
    """Delete Gradio's temporary copies of uploaded files (never a file outside its folder)."""
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder()).resolve()
    for f in files:
        p = Path(f).resolve()
        if root in p.parents:
            p.unlink(missing_ok=True)
            try:
                p.parent.rmdir()  # Gradio keeps each upload in a folder of its own
            except OSError:
                pass


def human_bytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.1f} kB"


def file_statuses(results: Sequence[Any]) -> dict[str, str]:
    """One status per uploaded file: a JSONL file holds many articles, and it is kept when any
    of them was stored (a record that was a duplicate or failed must not take the file, which
    the stored ones are read from, with it)."""
    out: dict[str, str] = {}
    for r in results:
        path = r.path.split("#", 1)[0]  # a JSONL record's result names "FILE#N"
        if out.get(path) not in ("added", "updated", "unchanged"):
            out[path] = r.status
    return out


def _unstage_failures(staged: Sequence[tuple[Path, bytes | None]],
                      statuses: dict[str, str]) -> None:
    """Put back what a failed or duplicate upload replaced, so nothing stored is lost."""
    for target, previous in staged:
        if statuses.get(str(target)) in ("failed", "duplicate") or str(target) not in statuses:
            if previous is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(previous)


# -- the app ------------------------------------------------------------------------------------
class ChatController:
    """The event handlers of one app (shared by all sessions; per-session data comes in as state).

    Handlers return Gradio values/updates in the order of the outputs wired in `build_app`.
    """

    def __init__(self, bot: Any, settings: Settings, default_mode: str | None = None) -> None:
        self.bot = bot
        self.settings = settings
        # Writes (upload, delete) go one at a time; questions take no lock at all: they are
        # answered while an upload is embedded, from the last consistent state of the store
        # (an article switches to its new text atomically, index/store.py).
        self.write_lock = threading.Lock()
        self.llm_ok = bool(settings.llm_configured and getattr(bot, "llm", None) is not None)
        self.default_mode = default_mode or (
            "llm" if self.llm_ok and settings.use_llm else "extractive")
        self.feedback_file = feedback_path(settings)
        self.export_dir = Path(tempfile.mkdtemp(prefix="qa-exports-"))  # this app's exports

    def article_text(self, article_id: str) -> str:
        return str(self.bot.article_text(article_id))

    def infos(self) -> list[Any]:
        return list(self.bot.articles())

    def header_md(self) -> str:
        arts = self.infos()
        n, chunks = len(arts), sum(i.n_chunks for i in arts)
        if not n:
            return ("**No articles indexed yet.** Add some in the **Library** tab, or run "
                    "`qa ingest data/articles/`.")
        return (f"{n} article{'s' if n != 1 else ''} · {chunks} passages · every claim is "
                "cited to the exact sentence, or the answer says the articles don't say")

    # -- chat --
    def _out(self, turns: list[ChatTurn]) -> tuple[Any, ...]:
        """(state, chatbot, sources panel, fallback button, search-all button)."""
        last = turns[-1] if turns else None
        offer = bool(last and last.llm_failed)
        widen = bool(last and last.refused_in_scope)
        return (turns, chat_messages(turns), sources_html(turns, self.article_text),
                gr.update(visible=offer), gr.update(visible=widen))

    # -- keeping and exporting the conversation --
    EXPORT_KEEP_SECONDS = 3600  # Gradio copies an export when it sends it; ours go after this

    def _prune_exports(self) -> None:
        cutoff = time.time() - self.EXPORT_KEEP_SECONDS
        for folder in self.export_dir.iterdir():
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)

    def persist(self, turns: list[ChatTurn]) -> tuple[Any, ...]:
        """(what the browser keeps, the download button) after the conversation changed."""
        return self.saved(turns), self.export(turns)

    @staticmethod
    def saved(turns: list[ChatTurn]) -> list[Any]:
        """The conversation as the browser keeps it (finished turns only), JSON values."""
        return [to_json(t) for t in turns if t.answer is not None or t.error]

    def restore(self, saved: Any) -> tuple[Any, ...]:
        """The conversation kept in the browser, back after a reload (`_out` + export)."""
        turns: list[ChatTurn] = []
        if isinstance(saved, list):
            try:
                turns = [from_json(ChatTurn, t) for t in saved]
            except (ValueError, TypeError) as e:  # an older or edited copy: start anew
                log.info("not restoring the stored conversation: %s", e)
                turns = []
        return (*self._out(turns), self.export(turns))

    def export(self, turns: list[ChatTurn]) -> Any:
        """The download button, holding the conversation as Markdown (hidden when empty)."""
        done = [t for t in turns if t.answer is not None or t.error]
        if not done:
            return gr.update(visible=False, value=None)
        self._prune_exports()
        folder = Path(tempfile.mkdtemp(dir=self.export_dir))
        path = folder / "conversation.md"
        path.write_text(conversation_markdown(done), encoding="utf-8")
        return gr.update(visible=True, value=str(path))

    def _stream_turn(self, turns: list[ChatTurn], turn: ChatTurn, top_k: int,
                     arts: Sequence[str], srcs: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        turns = [*turns, turn]
        yield self._out(turns)
        try:
            it = iter(self.bot.stream(turn.question, list(turn.history), top_k=int(top_k),
                                      articles=list(arts or ()), sources=list(srcs or ()),
                                      mode=turn.requested_mode))
            for item in it:
                if isinstance(item, Answer):
                    turn = replace(turn, answer=item, partial="")
                else:
                    turn = replace(turn, partial=turn.partial + item)
                turns[-1] = turn
                yield self._out(turns)
        except LLMError as e:
            status = f" (HTTP {e.status})" if e.status else ""
            turns[-1] = replace(turn, partial="", error=f"The language model failed{status}: {e}",
                                llm_failed=True)
        except QAError as e:
            turns[-1] = replace(turn, partial="", error=str(e))
        except Exception as e:
            log.exception("answering failed")
            turns[-1] = replace(turn, partial="", error=f"Something went wrong: {e}")
        yield self._out(turns)

    @staticmethod
    def history_of(turns: Sequence[ChatTurn]) -> tuple[str, ...]:
        """The earlier user questions that got an answer (what follow-ups are read against)."""
        return tuple(t.question for t in turns if t.answer is not None)

    def respond(self, question: str, turns: list[ChatTurn], mode: str, top_k: int,
                arts: list[str], srcs: list[str]) -> Iterator[tuple[Any, ...]]:
        """Ask: yields (textbox, state, chatbot, sources, fallback button) as the answer grows."""
        q = (question or "").strip()
        if not q:
            yield ("", *self._out(turns))
            return
        mode = mode if (mode == "extractive" or self.llm_ok) else "extractive"
        scope = scope_label(list(arts or ()), list(srcs or ()), self.infos()) if (
            arts or srcs) else ""
        turn = ChatTurn(question=q, history=self.history_of(turns), requested_mode=mode,
                        scope=scope)
        # the box is never touched here: `lock` emptied it as the question went, and what is
        # typed in it after the answer (it is locked meanwhile) must not be wiped
        for out in self._stream_turn(turns, turn, top_k, arts, srcs):
            yield (gr.update(), *out)

    def search_all(self, turns: list[ChatTurn], top_k: int) -> Iterator[tuple[Any, ...]]:
        """Ask the last question again, of every article (its filter is cleared alongside)."""
        if not turns:
            yield self._out(turns)
            return
        last = turns[-1]
        turn = ChatTurn(question=last.question, history=last.history,
                        requested_mode=last.requested_mode)
        yield from self._stream_turn(turns[:-1], turn, top_k, (), ())

    def reask_extractive(self, turns: list[ChatTurn], top_k: int, arts: list[str],
                         srcs: list[str]) -> Iterator[tuple[Any, ...]]:
        """Replace the last (failed) turn by its extractive answer."""
        if not turns:
            yield self._out(turns)
            return
        last = turns[-1]
        turn = ChatTurn(question=last.question, history=last.history, requested_mode="extractive",
                        scope=last.scope)
        yield from self._stream_turn(turns[:-1], turn, top_k, arts, srcs)

    @staticmethod
    def clear() -> tuple[Any, ...]:
        """(state, chatbot, sources, fallback button, search-all button, pending feedback,
        comment box, status)."""
        return ([], [], sources_html([]), gr.update(visible=False), gr.update(visible=False),
                None, gr.update(visible=False), "")

    # -- feedback --
    def rate(self, turns: list[ChatTurn], message_index: int, liked: bool | str, top_k: int,
             arts: list[str], srcs: list[str]) -> tuple[Any, ...]:
        """A thumb on the assistant message at `message_index`: write the row at once."""
        i = message_index // 2
        t = turns[i] if 0 <= i < len(turns) else None
        if t is None or t.answer is None:
            return None, gr.update(visible=False), gr.update(), "Only answers can be rated."
        rating = "up" if liked is True or liked == "Like" else "down"
        request = {"requested_mode": t.requested_mode, "top_k": int(top_k),
                   "articles": list(arts or ()), "sources": list(srcs or ())}
        row = Feedback.for_answer(t.answer, t.history, rating, self.settings, request=request)
        append_feedback(self.feedback_file, row)
        thumb = "👍" if rating == "up" else "👎"
        return (row, gr.update(visible=True),
                gr.update(value="", label=f"Add a comment to your {thumb} (optional)"),
                f"Thanks, your {thumb} is saved.")

    def comment(self, pending: Feedback | None, comment: str) -> tuple[Any, ...]:
        """The optional comment: the same row again, with the comment (same feedback_id)."""
        if pending is None or not (comment or "").strip():
            return (pending, gr.update(), gr.update(),
                    "Rate an answer with 👍 or 👎 first, then write a comment.")
        append_feedback(self.feedback_file, replace(pending, comment=comment.strip()))
        return None, gr.update(visible=False), gr.update(value=""), "Thanks, your comment is saved."

    # -- API --
    def ask_api(self, question: str, history: list[str] | None = None, top_k: int | None = None,
                articles: list[str] | None = None, sources: list[str] | None = None,
                mode: str | None = None) -> dict[str, Any]:
        """Answer `question` (after the earlier user questions `history`) as JSON."""
        if mode not in (None, "", "extractive", "llm"):
            raise caller_error(f"mode must be 'extractive' or 'llm', got {mode!r}")
        if mode == "llm" and not self.llm_ok:
            raise caller_error("mode='llm' needs a model server: start the UI with "
                               "OPENAI_API_KEY or OPENAI_BASE_URL set")
        try:
            ans = self.bot.ask(question, list(history or ()), top_k=top_k,
                               articles=list(articles or ()), sources=list(sources or ()),
                               mode=mode or self.default_mode)
        except QAError as e:
            raise caller_error(str(e)) from e
        return answer_payload(ans)

    # -- library --
    def refresh_library(self, query: str | None = "", sort: str = "Title") -> tuple[Any, ...]:
        """(header, table, article filter, publication filter, delete picker)."""
        arts = self.infos()
        choices = article_choices(arts)
        return (
            self.header_md(),
            library_html(arts, query, LIBRARY_SORTS.get(sort, "title")),
            gr.update(choices=choices),
            gr.update(choices=source_choices(arts)),
            gr.update(choices=choices, value=None),
        )

    def filter_library(self, query: str | None, sort: str = "Title") -> str:
        return library_html(self.infos(), query, LIBRARY_SORTS.get(sort, "title"))

    def library_action(self, action: str) -> tuple[Any, ...]:
        """A row's button (sent by the page as "open <id>" or "delete <id>"): (reader,
        delete picker, confirm button, status)."""
        op, _, article_id = (action or "").partition(" ")
        op = op.strip()
        info = next((i for i in self.infos() if i.meta.article_id == article_id), None)
        if info is None:
            return (gr.update(), gr.update(), gr.update(visible=False),
                    "That article is no longer stored.")
        if op == "delete":
            return (gr.update(), gr.update(value=article_id), gr.update(visible=True),
                    f"Delete “{info.meta.title}”? This removes its passages from the index.")
        text = self.article_text(article_id)
        return (article_reader_html(info.meta, text), gr.update(), gr.update(visible=False), "")

    def ingest_uploads(self, files: list[str] | None, query: str | None,
                       progress: gr.Progress = gr.Progress()  # noqa: B008
                       ) -> tuple[Any, ...]:
        """(report, file input, *refresh_library): stage, ingest, report per file."""
        if not files:
            return ("<p>Choose files first (" + ", ".join(UPLOAD_TYPES) + ").</p>", None,
                    *self.refresh_library(query))
        try:
            staged, rejected = _stage_uploads(files, self.settings)
        finally:
            _remove_gradio_uploads(files)  # our copies are staged; Gradio's would pile up
        html_out = rejected_html(rejected)
        if staged:
            progress(0, desc="Reading and embedding…")

            def step(done: int, total: int, path: str) -> None:
                progress((done, total), desc=f"Embedding {Path(path).name}", unit="passages")

            try:
                with self.write_lock:
                    report = self.bot.ingest([p for p, _ in staged], progress=step)
            except QAError as e:
                _unstage_failures(staged, {})
                return (html_out + f"<p class='qa-warn'>Ingest failed: {esc(str(e))}</p>",
                        None, *self.refresh_library(query))
            _unstage_failures(staged, file_statuses(report.results))
            names = {str(p): p.name for p, _ in staged}
            html_out = ingest_report_html(report, names) + html_out
        return (html_out, None, *self.refresh_library(query))

    @staticmethod
    def ask_delete(article_id: str | None) -> tuple[Any, ...]:
        if not article_id:
            return gr.update(visible=False), "Pick an article to delete."
        return gr.update(visible=True), "Delete it? This removes its passages from the index."

    def delete(self, article_id: str | None, query: str | None) -> tuple[Any, ...]:
        """(confirm button, status, *refresh_library)."""
        if not article_id:
            return (gr.update(visible=False), "Pick an article to delete.",
                    *self.refresh_library(query))
        with self.write_lock:
            infos = self.bot.articles()
            file = next((i.meta.path for i in infos if i.meta.article_id == article_id), "")
            ok = self.bot.delete_article(article_id)
            if ok and file:
                _remove_upload(file, [i.meta.path for i in infos
                                      if i.meta.article_id != article_id], self.settings)
        msg = "Deleted." if ok else "That article was already gone."
        return (gr.update(visible=False), msg, *self.refresh_library(query))


LOCK_JS = """(q) => {
  document.querySelectorAll('#qa-input textarea, #qa-ask, .qa-example')
    .forEach((el) => { el.disabled = true; });
  return q;
}"""


def lock(n_examples: int, example: str | None, question: str) -> tuple[Any, ...]:
    """(box emptied and locked, Ask and example buttons locked, the question asked)."""
    off = gr.update(interactive=False)
    return (gr.update(value="", interactive=False), off, *([off] * n_examples),
            example if example is not None else (question or ""))


def unlock(n_examples: int) -> tuple[Any, ...]:
    on = gr.update(interactive=True)
    return (on, on, *([on] * n_examples))


def build_app(assistant: Any, settings: Settings | None = None, *,
              default_mode: str | None = None) -> gr.Blocks:
    """The Gradio app over `assistant` (an Assistant, or a zero-argument factory of one).

    Start it with `launch(app, settings, ...)` (queue, upload limit, CSS and script).
    """
    bot = assistant() if callable(assistant) and not hasattr(assistant, "stream") else assistant
    settings = settings or bot.settings
    ctl = ChatController(bot, settings, default_mode)
    llm_ok, mode0 = ctl.llm_ok, ctl.default_mode
    infos = ctl.infos

    def on_like(turns: list[ChatTurn], top_k: int, arts: list[str], srcs: list[str],
                evt: gr.LikeData) -> tuple[Any, ...]:
        idx = evt.index if isinstance(evt.index, int) else evt.index[0]
        return ctl.rate(turns, idx, evt.liked, top_k, arts, srcs)

    model_label = f"LLM — {settings.llm_model}" if llm_ok else "LLM (not configured)"
    with gr.Blocks(title="Article QA", fill_width=True) as app:
        turns_state = gr.State([])
        asked = gr.State("")  # the question being answered (the box was emptied as it went)
        # the conversation survives a reload: kept in the browser's storage, encrypted with
        # this store's key (ui_secret), so a restart of the server keeps it readable too
        kept = gr.BrowserState([], storage_key="article-qa-conversation",
                               secret=ui_secret(settings))
        pending_fb = gr.State(None)
        with gr.Column(elem_id="qa-header"):
            gr.Markdown("# Article QA", elem_id="qa-brand")
            header = gr.Markdown(ctl.header_md(), elem_id="qa-summary")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        chatbot = gr.Chatbot(
                            elem_id="qa-chat", show_label=False, height=560,
                            buttons=["copy"], sanitize_html=True, render_markdown=True,
                            latex_delimiters=[], allow_tags=False, layout="bubble",
                            feedback_options=("Like", "Dislike"),
                            placeholder=(
                                "### Ask about the articles\nEvery sentence of an answer "
                                "comes from an article and carries a marker like [1]; click it "
                                "to read the passage with the cited sentence highlighted."),
                        )
                        with gr.Row(elem_id="qa-ask-row"):
                            question = gr.Textbox(
                                placeholder="Ask a question about the articles…",
                                label="Question", show_label=False, scale=6, autofocus=True,
                                elem_id="qa-input",
                                max_length=settings.max_question_chars, container=False)
                            ask_btn = gr.Button("Ask", variant="primary", scale=1,
                                                elem_id="qa-ask", min_width=80)
                        with gr.Row(elem_id="qa-examples"):
                            example_btns = [gr.Button(q, size="sm", variant="secondary",
                                                      elem_classes="qa-example")
                                            for q in EXAMPLES]
                        fallback_btn = gr.Button("Answer extractively instead", visible=False,
                                                 variant="primary", elem_id="qa-fallback")
                        search_all_btn = gr.Button("Search all articles", visible=False,
                                                   variant="primary", elem_id="qa-search-all")
                        with gr.Group(visible=False, elem_id="qa-comment-box") as comment_box:
                            comment = gr.Textbox(label="Add a comment (optional)", lines=2,
                                                 elem_id="qa-comment",
                                                 placeholder="What was good or wrong about it?")
                            comment_btn = gr.Button("Send comment", size="sm",
                                                    elem_id="qa-comment-send")
                        with gr.Row(elem_id="qa-chat-foot"):
                            fb_status = gr.Markdown("", elem_id="qa-feedback-status")
                            export_btn = gr.DownloadButton(
                                "Download conversation (.md)", visible=False, size="sm",
                                variant="secondary", elem_id="qa-export", scale=0,
                                min_width=200)
                            clear_btn = gr.Button("Clear chat", variant="secondary", size="sm",
                                                  elem_id="qa-clear", scale=0, min_width=110)
                    with gr.Column(scale=2, min_width=320):
                        sources = gr.HTML(sources_html([]), elem_id="qa-sources",
                                          js_on_load=None, label="Sources")
                with gr.Accordion("Answer settings", open=False, elem_id="qa-settings"):
                    with gr.Row():
                        mode = gr.Radio(
                            [(MODE_LABELS["extractive"], "extractive"), (model_label, "llm")],
                            value=mode0, label="Answer mode", interactive=llm_ok,
                            info=None if llm_ok else "Set OPENAI_API_KEY or OPENAI_BASE_URL "
                            "and restart to enable generative answers.", elem_id="qa-mode")
                        top_k = gr.Slider(1, 20, value=settings.top_k, step=1,
                                          label="Passages to retrieve", elem_id="qa-topk")
                    with gr.Row():
                        art_filter = gr.Dropdown(choices=article_choices(infos()), value=[],
                                                 multiselect=True, elem_id="qa-art-filter",
                                                 label="Search only these articles (empty: all)")
                        src_filter = gr.Dropdown(choices=source_choices(infos()), value=[],
                                                 multiselect=True, elem_id="qa-src-filter",
                                                 label="…and these publications (empty: all)")
            with gr.Tab("Library", id="library"):
                lib_query = gr.Textbox(
                    placeholder="Filter by title, publication, date, author or file…",
                    show_label=False, elem_id="qa-lib-filter")
                lib_sort = gr.Radio(list(LIBRARY_SORTS), value="Title", label="Sort by",
                                    elem_id="qa-lib-sort")
                table = gr.HTML(library_html(infos()), elem_id="qa-library")
                # a row's Open / Delete… button reaches the server through these two (hidden)
                lib_action = gr.Textbox(elem_id="qa-lib-action", elem_classes="qa-hidden",
                                        show_label=False, container=False)
                lib_go = gr.Button("go", elem_id="qa-lib-go", elem_classes="qa-hidden")
                lib_reader = gr.HTML("", elem_id="qa-lib-reader")
                with gr.Row(equal_height=False):
                    with gr.Column():
                        files = gr.File(file_count="multiple", file_types=list(UPLOAD_TYPES),
                                        label=("Add articles: " + " ".join(UPLOAD_TYPES)
                                               + f" (up to {human_bytes(settings.max_file_bytes)}"
                                               " each)"), elem_id="qa-upload")
                        ingest_btn = gr.Button("Ingest", variant="primary", elem_id="qa-ingest")
                        report = gr.HTML("", elem_id="qa-report", js_on_load=None)
                    with gr.Column():
                        del_pick = gr.Dropdown(choices=article_choices(infos()), value=None,
                                               label="Delete an article", elem_id="qa-del-pick")
                        del_btn = gr.Button("Delete…", variant="secondary", elem_id="qa-del")
                        del_confirm = gr.Button("Yes, delete it", variant="stop", visible=False,
                                                elem_id="qa-del-confirm")
                        del_status = gr.Markdown("", elem_id="qa-del-status")

        chat_io: dict[str, Any] = {
            "inputs": [asked, turns_state, mode, top_k, art_filter, src_filter],
            "outputs": [question, turns_state, chatbot, sources, fallback_btn, search_all_btn],
        }
        private: dict[str, Any] = {"api_visibility": "private"}
        # While a question is answered the box and the buttons are locked (at once in the
        # browser, then by the server), so nothing typed meanwhile can be wiped or lost; the
        # question travels in `asked`, the box is emptied as it goes, and unlocked after.
        lockable = [question, ask_btn, *example_btns]
        kept_after = []
        for trigger, take in ((question.submit, None), (ask_btn.click, None),
                              *((b.click, q) for b, q in zip(example_btns, EXAMPLES))):
            asked_now = trigger(
                partial(lock, len(example_btns), take), question, [*lockable, asked],
                js=LOCK_JS, queue=False, **private)
            answered = asked_now.then(ctl.respond, **chat_io, **private)
            kept_after.append(answered)
            answered.then(partial(unlock, len(example_btns)), None, lockable, queue=False,
                          **private)
        turn_out = [turns_state, chatbot, sources, fallback_btn, search_all_btn]
        kept_after.append(fallback_btn.click(
            ctl.reask_extractive, [turns_state, top_k, art_filter, src_filter], turn_out,
            **private))
        kept_after.append(search_all_btn.click(
            lambda: ([], []), None, [art_filter, src_filter], queue=False, **private).then(
            ctl.search_all, [turns_state, top_k], turn_out, **private))
        clear_out = [turns_state, chatbot, sources, fallback_btn, search_all_btn, pending_fb,
                     comment_box, fb_status]
        kept_after.append(clear_btn.click(ctl.clear, None, clear_out, queue=False, **private))
        kept_after.append(chatbot.clear(ctl.clear, None, clear_out, queue=False, **private))
        chatbot.like(on_like, [turns_state, top_k, art_filter, src_filter],
                     [pending_fb, comment_box, comment, fb_status], **private)
        fb_io: dict[str, Any] = {"inputs": [pending_fb, comment],
                                 "outputs": [pending_fb, comment_box, comment, fb_status]}
        comment_btn.click(ctl.comment, **fb_io, **private)
        comment.submit(ctl.comment, **fb_io, **private)

        app.load(ctl.restore, kept, [*turn_out, export_btn], **private)
        for event in kept_after:  # every change of the conversation is kept, and exportable
            event.then(ctl.persist, turns_state, [kept, export_btn], **private)

        lib_outputs = [header, table, art_filter, src_filter, del_pick]
        app.load(ctl.refresh_library, [lib_query, lib_sort], lib_outputs, **private)
        lib_query.change(ctl.filter_library, [lib_query, lib_sort], table, queue=False,
                         **private)
        lib_sort.change(ctl.filter_library, [lib_query, lib_sort], table, queue=False,
                        **private)
        lib_go.click(ctl.library_action, lib_action, [lib_reader, del_pick, del_confirm,
                                                      del_status], queue=False, **private)
        in_order = {"fn": ctl.filter_library, "inputs": [lib_query, lib_sort], "outputs": table,
                    "queue": False, **private}  # the table keeps the chosen order
        ingest_btn.click(ctl.ingest_uploads, [files, lib_query], [report, files, *lib_outputs],
                         **private).then(**in_order)
        del_btn.click(ctl.ask_delete, del_pick, [del_confirm, del_status], queue=False, **private)
        del_confirm.click(ctl.delete, [del_pick, lib_query], [del_confirm, del_status,
                                                             *lib_outputs], **private).then(
            **in_order).then(lambda: "", None, lib_reader, queue=False, **private)
        gr.api(ctl.ask_api, api_name="ask")
    return app


def launch(app: gr.Blocks, settings: Settings, *, host: str = "127.0.0.1", port: int = 7860,
           auth: list[tuple[str, str]] | None = None, prevent_thread_lock: bool = False,
           quiet: bool = False) -> tuple[Any, str, str]:
    """Start the server (queue on, upload limit, our CSS/JS); returns Gradio's (app, url, _)."""
    app.queue(default_concurrency_limit=8)  # questions do not wait for one another
    return app.launch(
        server_name=host, server_port=port, auth=auth,
        auth_message="Log in to Article QA" if auth else None,
        max_file_size=settings.max_file_bytes, prevent_thread_lock=prevent_thread_lock,
        show_error=True, quiet=quiet, footer_links=["api"], ssr_mode=False,
        css=ui_assets.CSS, head=f"<script>{ui_assets.JS}</script>",
        theme=gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
    )


def main(settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 7860,
         ingest_paths: Sequence[str] = ()) -> int:
    """`qa ui`: open the store, optionally ingest, serve until interrupted."""
    from qa.api import Assistant
    from qa.terminal import print_report, tell_wait

    settings = settings or Settings.from_env()
    auth = auth_from_env()
    # With a model server configured, load the LLM even when extractive is the default, so the
    # mode can be switched in the browser.
    open_with = settings.replace(answer_mode="auto") if (
        settings.llm_configured and settings.answer_mode == "extractive") else settings
    # serve=True: the store stays usable by other processes (`qa ingest` in a terminal) while
    # the chat runs; they share it through the Chroma server this process starts on it.
    with Assistant.open(open_with, serve=True, on_wait=tell_wait) as bot:
        if ingest_paths:
            report = bot.ingest(list(ingest_paths))
            print_report(report, out=sys.stderr)
        default_mode = "extractive" if settings.answer_mode == "extractive" else None
        app = build_app(bot, settings, default_mode=default_mode)
        if host not in ("127.0.0.1", "localhost", "::1") and not auth:
            log.warning("serving on %s without a login: set QA_UI_USER/QA_UI_PASSWORD", host)
        try:
            launch(app, settings, host=host, port=port, auth=auth, prevent_thread_lock=True,
                   quiet=True)
            print(f"Article QA on http://{host}:{port}  (Ctrl-C to stop)", file=sys.stderr)
            app.block_thread()  # Gradio's wait, until Ctrl-C or `kill` (see `qa ui`)
        except KeyboardInterrupt:  # one that lands while Gradio is still starting
            pass
        finally:
            app.close(verbose=False)  # queue and server; then the store closes, and its server
    return 0
