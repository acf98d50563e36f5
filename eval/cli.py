"""`qa eval`: run a gold set, compare two runs, or run the RGB benchmark.

    qa eval --gold eval/gold.jsonl [--corpus data/articles] [--out DIR] [--judge] [settings flags]
    qa eval --compare RUN_A/results.json RUN_B/results.json [--out compare.md]
    qa eval rgb --data /path/to/en_fact.json [--out DIR] [--limit N] [settings flags]

Exit codes: 0 done, 1 a QAError (bad input, store trouble), 2 usage.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import sys
from pathlib import Path

from qa.errors import ConfigError
from qa.terminal import add_settings_args, settings_from_args

ROOT = Path(__file__).resolve().parents[1]


def _default_out(prefix: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(Path("reports") / f"{prefix}-{stamp}")


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qa eval", description="Evaluate on a gold set (judge-free metrics), or compare runs."
        " `qa eval rgb --help` for the RGB benchmark.",
    )
    p.add_argument("--gold", default=str(ROOT / "eval" / "gold.jsonl"),
                   help="gold JSONL file (default: the repo's eval/gold.jsonl)")
    p.add_argument("--corpus", help="articles folder (default: data/articles of the gold "
                   "file's project)")
    p.add_argument("--out", help="output folder (default: reports/eval-<time>)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="compare two results.json files (or run folders) instead of running")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--judge", action="store_true",
                   help="also grade answers with the configured LLM (OPENAI_API_KEY or "
                   "OPENAI_BASE_URL, QA_LLM_MODEL), reported apart from the judge-free metrics")
    add_settings_args(p)
    return p


def build_rgb_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa eval rgb",
                                description="RGB benchmark (en_fact.json): answering, negative "
                                "rejection and counterfactual robustness")
    p.add_argument("--data", required=True, help="path to RGB en_fact.json (read in place)")
    p.add_argument("--out", help="output folder (default: reports/rgb-<time>)")
    p.add_argument("--limit", type=int, help="only the first N questions (quick checks)")
    add_settings_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["rgb"]:
        return _rgb(build_rgb_parser().parse_args(argv[1:]))
    args = build_parser().parse_args(argv)
    _logging(args.verbose)
    if args.compare:
        return _compare(args)
    from eval.harness import run_eval

    settings = settings_from_args(args)
    out = args.out or _default_out("eval")
    judge = None
    if args.judge:
        if not settings.llm_configured:
            raise ConfigError("--judge needs a language model: set OPENAI_API_KEY for OpenAI, or "
                              "OPENAI_BASE_URL (--base-url) for an OpenAI-compatible server")
        from eval.judge import LlmJudge

        judge = LlmJudge.from_settings(settings)
    run = run_eval(args.gold, args.corpus, settings, out, plots=not args.no_plots, judge=judge)
    from eval.report import latency_table, summary_table

    print(summary_table(run.results))
    print()
    print(latency_table(run.results))
    print(f"\n{len(run.cases)} cases in {run.seconds:.1f}s (index {run.index_seconds:.1f}s); "
          f"report: {run.report_path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from eval.harness import load_results
    from eval.report import compare, format_comparison

    a_path, b_path = args.compare
    text = format_comparison(compare(load_results(a_path), load_results(b_path), a_path, b_path))
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def _rgb(args: argparse.Namespace) -> int:
    _logging(args.verbose)
    from eval.rgb import run_rgb

    out = args.out or _default_out("rgb")
    result = run_rgb(args.data, out, settings_from_args(args), limit=args.limit)
    print(result.report_text)
    print(f"report: {result.report_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
