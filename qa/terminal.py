"""What the terminal doors (`qa`, `qa eval`, `qa ui`) share: the settings flags, the message
shown while another process has the store, and the printed ingest report.

It lives in the library layer so the doors import it without importing each other.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any

from qa.settings import Settings
from qa.types import ArticleInfo, IngestReport


def add_settings_args(p: argparse.ArgumentParser, *, answers: bool = True,
                      chunking: bool = True) -> None:
    """The settings a subcommand uses, each overriding its QA_* environment variable: the store's
    always; how answers are made (`answers`) and how articles are cut (`chunking`) where the
    command answers questions or writes passages."""
    g = p.add_argument_group("settings (override QA_* environment variables)")
    g.add_argument("--store", dest="store_path", help="store folder (QA_STORE_PATH)")
    g.add_argument("--chroma-url", dest="chroma_url", help="Chroma server, e.g. http://127.0.0.1:8000")
    g.add_argument("--collection", help="collection name prefix (QA_COLLECTION)")
    g.add_argument("--embed-backend", dest="embed_backend",
                   choices=["minilm-onnx", "minilm-st", "openai"])
    if chunking:
        g.add_argument("--chunk-tokens", dest="chunk_tokens", type=int)
        g.add_argument("--chunk-overlap", dest="chunk_overlap", type=int)
        g.add_argument("--embed-max-tokens", dest="embed_max_tokens", type=int,
                       help="word pieces of each passage the MiniLM embedder reads, 16..256 "
                       "(QA_EMBED_MAX_TOKENS, default 128)")
    if answers:
        g.add_argument("--top-k", dest="top_k", type=int, help="passages retrieved (QA_TOP_K)")
        g.add_argument("--mode", dest="answer_mode", choices=["auto", "extractive", "llm"],
                       help="answer mode (QA_ANSWER_MODE)")
        g.add_argument("--llm", dest="llm_flag", action="store_true",
                       help="generative answers (same as --mode llm)")
        g.add_argument("--model", dest="llm_model", help="LLM model name (QA_LLM_MODEL)")
        g.add_argument("--base-url", dest="openai_base_url",
                       help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
        g.add_argument("--threshold", dest="refusal_threshold", type=float,
                       help="refusal threshold, 0..1 (QA_REFUSAL_THRESHOLD; default: the answer "
                       "scorer's calibrated one)")
    g.add_argument("-v", "--verbose", action="store_true")


_SETTING_KEYS = (
    "store_path", "chroma_url", "collection", "top_k", "answer_mode", "llm_model",
    "openai_base_url", "embed_backend", "chunk_tokens", "chunk_overlap", "refusal_threshold",
    "embed_max_tokens",
)


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {k: getattr(args, k, None) for k in _SETTING_KEYS}
    if getattr(args, "llm_flag", False):
        overrides["answer_mode"] = "llm"
    return Settings.from_env(**overrides)


def tell_wait(owner: Any) -> None:
    print(f"waiting: the store is open in {owner.describe()}; continuing when it has finished "
          "(up to QA_STORE_WAIT seconds; Ctrl-C to stop). To share a store between processes, "
          "keep `qa serve` or `qa ui` running.", file=sys.stderr, flush=True)



def printable(text: str) -> str:
    """`text` safe to print on a terminal: control characters (a newline or an escape sequence
    in a file name) are shown as escapes, not obeyed."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def print_report(report: IngestReport, out: Any = None) -> None:
    out = out or sys.stdout  # looked up at call time, so a redirected stdout is honoured
    for r in report.results:
        if r.status in ("failed", "duplicate", "conflict"):
            print(f"  {r.status:9} {printable(r.path)}: {printable(r.reason)}", file=out)
        elif r.status in ("added", "updated", "pruned"):
            print(f"  {r.status:9} {printable(r.path)} ({r.n_chunks} chunks)", file=out)
    print(f"{report.summary()} in {report.seconds:.1f}s", file=out)


def short_id(article_id: str) -> str:
    """An 8-character handle for an article (its id is a URL or a full path): what `qa articles`
    shows and `qa delete` takes."""
    return hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:8]


def cut(text: str, width: int) -> str:
    """`text` on one line in at most `width` characters, cut at a word boundary with "…"."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    head = text[: width - 1]
    space = head.rfind(" ")
    return (head[:space] if space > width // 2 else head).rstrip(" ,;:-–—") + "…"


def article_record(info: ArticleInfo) -> dict[str, Any]:
    m = info.meta
    return {"id": m.article_id, "short_id": short_id(m.article_id), "title": m.title,
            "source": m.source, "date": m.date, "author": m.author, "url": m.url,
            "file": m.path, "passages": info.n_chunks}
