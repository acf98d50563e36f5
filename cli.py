"""The `qa` command (the command-line door): ingest, ask, chat, articles, delete, eval, ui.

A door beside `ui.py` and `eval/`: it may import them (to dispatch `qa ui`, `qa eval`); nothing
imports it. What the doors share lives below them, in `qa.terminal`.

Only this edge turns library errors into messages and exit codes (1: a QAError, 2: usage).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from qa.errors import QAError
from qa.terminal import (
    add_settings_args,
    article_record,
    cut,
    print_report,
    printable,
    settings_from_args,
    short_id,
    tell_wait,
)
from qa.types import Answer
from qa.ui_render import offered_passages

log = logging.getLogger("qa")


def _open(args: argparse.Namespace) -> Any:
    """The Assistant for a command; use it in a `with` block so the store is let go."""
    from qa.api import Assistant

    return Assistant.open(settings_from_args(args), on_wait=tell_wait)


# -- output -----------------------------------------------------------------------------------
def format_answer(ans: Answer, show_text: bool = True) -> str:
    lines = [ans.text] if show_text else []
    if ans.refused:
        near = offered_passages(ans)
        if near:
            lines.append("\nClosest passages (you may be looking for):")
            for p in near[:3]:
                snippet = " ".join(p.chunk.text.split())[:160]
                lines.append(f"  - {p.article.title[:60]} — {snippet}…")
    else:
        lines.append("")
        for c in ans.citations:
            src = " · ".join(x for x in (c.article.source, c.article.date) if x)
            where = c.article.url or c.article.path
            lines.append(f"[{c.number}] {c.article.title[:70]}" + (f" ({src})" if src else ""))
            lines.append(f"    “{c.quote}”")
            page = f" p. {c.page}" if c.page is not None else ""
            lines.append(f"    {where}{page} chars {c.start}-{c.end}")
    flagged = ans.unsupported_sentences
    if flagged:
        lines.append("\nNot supported by the cited passages:")
        lines += [f"  ! {s.text}" for s in flagged]
    for w in ans.warnings:
        lines.append(f"note: {w}")
    t = ans.timings.get("total")
    lines.append(f"\n({ans.mode}" + (f", {t:.2f}s" if t is not None else "") + ")")
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    with _open(args) as bot:
        bar: Any = None

        def progress(done: int, total: int, path: str) -> None:
            nonlocal bar
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="passage", file=sys.stderr, disable=args.quiet)
            bar.update(done - bar.n)

        report = bot.ingest(args.paths, prune=args.prune, progress=progress)
        if bar is not None:
            bar.close()
        print_report(report)
        return 0 if report.ok else 1


def _ask_one(bot: Any, question: str, history: Sequence[str], stream: bool) -> Answer:
    ans: Answer | None = None
    printed = False
    for item in bot.stream(question, history):
        if isinstance(item, Answer):
            ans = item
        elif stream:
            print(item, end="", flush=True)
            printed = True
    assert ans is not None
    if printed:
        print()
    print(format_answer(ans, show_text=not printed))
    return ans


def cmd_ask(args: argparse.Namespace) -> int:
    words = args.question
    if len(words) > 1 and any(len(w.split()) > 1 for w in words):
        # `qa ask "Q1" "Q2"`: two questions, or a follow-up and its earlier turn? Say which is
        # which instead of guessing; unquoted words (`qa ask Who is Baldoni?`) are one question.
        shown = " ".join(f'"{w}"' for w in words)
        print(f"error: qa ask takes one question, and got {len(words)}: {shown}. Ask them one "
              "at a time; for a follow-up, give the earlier question with --history: qa ask "
              f'--history "{words[0]}" "{words[-1]}" (or use qa chat)', file=sys.stderr)
        return 2
    with _open(args) as bot:
        _ask_one(bot, " ".join(words), args.history or [], args.stream)
        return 0


def cmd_chat(args: argparse.Namespace) -> int:
    with _open(args) as bot:
        history: list[str] = []
        print("Ask about the articles. Empty line or Ctrl-D to quit; /clear forgets the conversation.")
        while True:
            try:
                q = input("\n> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if not q:
                return 0
            if q == "/clear":
                history = []
                continue
            try:
                _ask_one(bot, q, history, stream=True)
                history.append(q)
            except QAError as e:
                print(f"error: {e}", file=sys.stderr)


def cmd_articles(args: argparse.Namespace) -> int:
    with _open(args) as bot:
        infos = bot.articles()
        if args.json:
            print(json.dumps([article_record(i) for i in infos], indent=2, ensure_ascii=False))
            return 0
        if not infos:
            print(f"No articles in {bot.settings.store_label}. Ingest some: qa ingest data/articles/")
            return 0
        width = max(60, shutil.get_terminal_size((100, 24)).columns)
        src_w = min(20, max((len(i.meta.source) for i in infos), default=6))
        src_w = max(src_w, len("source"))
        title_w = width - (8 + 2 + 10 + 2 + src_w + 2 + 8 + 2)
        print(f"{'id':8}  {'date':10}  {'source':{src_w}}  {'passages':>8}  title")
        for i in infos:
            m = i.meta
            print(f"{short_id(m.article_id):8}  {m.date[:10] or '–':10}  "
                  f"{cut(m.source or '–', src_w):{src_w}}  {i.n_chunks:8}  "
                  f"{printable(cut(m.title, max(20, title_w)))}")
        print(f"{len(infos)} articles, {sum(i.n_chunks for i in infos)} passages "
              "(`qa delete ID` takes the id shown; `qa articles --json` gives full ids and paths)")
        return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with _open(args) as bot:
        stored = [i.meta.article_id for i in bot.articles()]
        missing = []
        for given in args.article_ids:
            matches = [a for a in stored if a == given] or [
                a for a in stored if short_id(a) == given]
            if len(matches) != 1 or not bot.delete_article(matches[0]):
                missing.append(given)
        for a in missing:
            print(f"not stored: {a} (see `qa articles` for ids)", file=sys.stderr)
        return 1 if missing else 0


def cmd_check(args: argparse.Namespace) -> int:
    """The full check: every vector readable, every article's passages present, spans valid."""
    from qa.api import Assistant

    with Assistant.open(settings_from_args(args), on_wait=tell_wait, check=False) as bot:
        health = bot.check()
        label = bot.settings.store_label
    c = health.counts
    print(f"{label}: {c.get('articles', 0)} articles, {c.get('chunks', 0)} passages")
    for d in health.damage:
        print(f"  damaged: {d}")
    for n in health.notes:
        print(f"  note: {n}")
    if health.ok:
        print("ok: every passage has its vector and its article's text at its span")
        return 0
    print(f"Run `qa repair --store {label}` to rebuild what is damaged.")
    return 1


def cmd_repair(args: argparse.Namespace) -> int:
    """Rebuild what can be rebuilt (index/repair.py) and say what could not."""
    from qa.api import repair

    settings = settings_from_args(args)
    print(f"Repairing {settings.store_label}…", flush=True)
    report = repair(settings, on_wait=tell_wait, say=lambda m: print(f"  {m}", flush=True))
    if not report.actions:
        print("  nothing needed repair")
    for item in report.lost:
        print(f"  lost: {item}")
    for d in report.health.damage:
        print(f"  still damaged: {d}")
    c = report.health.counts
    state = "ok" if report.ok else "NOT fully repaired"
    print(f"{state}: {c.get('articles', 0)} articles, {c.get('chunks', 0)} passages")
    return 0 if report.ok else 1


def cmd_eval(argv: list[str]) -> int:
    from eval.cli import main as eval_main

    return eval_main(argv)


def cmd_serve(args: argparse.Namespace) -> int:
    """Own the embedded store and serve it, so several processes can use it at once."""
    from index.connect import connect

    settings = settings_from_args(args)
    if settings.remote_url:
        print(f"error: {settings.remote_url} is a Chroma server already: every process can use "
              "it; `qa serve` is for an embedded store folder (QA_STORE_PATH)", file=sys.stderr)
        return 2
    conn = connect(settings.store_path, serve=True, wait=settings.store_wait,
                   on_wait=tell_wait)
    try:
        if conn.mode != "serving":
            print(f"The store {conn.label} is already served at {conn.url}.")
            return 0
        print(f"Serving the store {conn.label} at {conn.url}: `qa` commands, `qa ui` and "
              "Assistant.open on this machine share it through this process. Ctrl-C to stop.",
              flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while _serving(conn):
            time.sleep(1.0)
        print("error: the Chroma server stopped; see .qa-server.log in the store folder",
              file=sys.stderr)
        return 1
    finally:
        conn.close()


def _serving(conn: Any) -> bool:
    from index.server import heartbeat

    return heartbeat(conn.url)


def cmd_ui(args: argparse.Namespace) -> int:
    import ui

    # `kill PID` (a service manager's stop) is a Ctrl-C: the chat closes its server, stops the
    # Chroma server it runs for the store and releases the store, instead of dying mid-write
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return ui.main(settings_from_args(args), host=args.host, port=args.port,
                   ingest_paths=args.ingest or [])


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("article-qa")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"qa (article-qa) {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="add or update articles (files or folders)")
    s.add_argument("paths", nargs="+")
    s.add_argument("--prune", action="store_true", help="remove articles whose files are gone")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_settings_args(s, answers=False)
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("ask", help="answer one question", description="Answer one question "
                       "(quote it). A follow-up names its earlier questions with --history.")
    s.add_argument("question", nargs="+", help="the question, e.g. \"Who is Baldoni's lawyer?\"")
    s.add_argument("--history", action="append", help="an earlier question (repeatable)")
    s.add_argument("--stream", action="store_true", help="print the answer as it comes")
    add_settings_args(s, chunking=False)
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="multi-turn questions in the terminal")
    add_settings_args(s, chunking=False)
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("articles", help="list the indexed articles")
    s.add_argument("--json", action="store_true",
                   help="every article as JSON (full id, title, source, date, author, url, file)")
    add_settings_args(s, answers=False, chunking=False)
    s.set_defaults(func=cmd_articles)

    s = sub.add_parser("delete", help="remove articles by id (as `qa articles` shows it, or full)")
    s.add_argument("article_ids", nargs="+")
    add_settings_args(s, answers=False, chunking=False)
    s.set_defaults(func=cmd_delete)

    s = sub.add_parser("check", help="check the store: every vector, passage and span")
    add_settings_args(s, answers=False, chunking=False)
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("repair", help="rebuild a damaged store from its stored texts")
    add_settings_args(s, answers=False)
    s.set_defaults(func=cmd_repair)

    s = sub.add_parser("serve", help="share an embedded store with other processes (keep it "
                       "running; `qa ui` does the same)")
    add_settings_args(s, answers=False, chunking=False)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("ui", help="the browser chat (Gradio)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--ingest", action="append", help="ingest these paths first (repeatable)")
    add_settings_args(s)
    s.set_defaults(func=cmd_ui)

    sub.add_parser("eval", help="evaluate on a gold set: `qa eval --help`", add_help=False)
    return p


def _stacks_on_sigusr1() -> None:
    """`kill -USR1 PID` prints what each thread is doing to stderr (a process that seems stuck)."""
    try:
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (AttributeError, OSError, ValueError):  # no SIGUSR1 (Windows); stderr is not a file
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval"]:
        try:
            return cmd_eval(argv[1:])
        except QAError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    parser = build_parser()
    args = parser.parse_args(argv)
    _stacks_on_sigusr1()
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        t0 = time.perf_counter()
        code = int(args.func(args))
        log.info("done in %.2fs", time.perf_counter() - t0)
        return code
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the store is consistent; run the same command again to finish",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
