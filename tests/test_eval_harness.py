"""The harness on a gold set it has never seen: a tiny synthetic corpus and a 3-case gold file.

Real parts: the bundled embedding model, real Chroma in tmp, real matplotlib plots.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main as qa_main
from eval.cli import main as eval_main
from eval.harness import load_results, run_eval
from qa.errors import InputError
from qa.settings import Settings

HARBOUR = """Harbour bridge reopens after repairs
The Kelvin harbour bridge reopened to traffic on Monday after eleven months of repairs.
The city engineer, Mira Castellane, said the repairs cost 42 million euros.
Cyclists will get a separate lane on the eastern side of the bridge from next spring.
"""
ORCHARD = """Orchard cooperative doubles its apple harvest
The Vessel Valley orchard cooperative picked twice as many apples this autumn as last year.
Its chair, Tomas Wreede, credited the new drip irrigation installed in March.
Most of the harvest will be pressed into cider at the cooperative's own mill.
"""
GOLD = [
    {"id": "bridge-cost", "kind": "single", "history": [],
     "question": "How much did the harbour bridge repairs cost?",
     "answer": "42 million euros.", "answerable": True, "must_include": [["42 million"]],
     "evidence": [{"doc": "harbour.txt", "quote": "the repairs cost 42 million euros"}]},
    {"id": "orchard-why", "kind": "followup", "history": ["Who chairs the orchard cooperative?"],
     "question": "What did he credit for the bigger apple harvest?",
     "answer": "The new drip irrigation.", "answerable": True,
     "must_include": [["drip irrigation"]],
     "evidence": [{"doc": "orchard.txt", "quote": "credited the new drip irrigation"}]},
    {"id": "volcano", "kind": "unanswerable", "history": [],
     "question": "When did the Icelandic volcano Katla last erupt?",
     "answer": "", "answerable": False, "must_include": [], "evidence": []},
]
IDS = {"bridge-cost", "orchard-why", "volcano"}
TINY_THRESHOLD = 0.15


def write_tiny(root: Path) -> tuple[Path, Path]:
    """The tiny gold file and its two-article corpus under `root`: (gold, corpus)."""
    corpus = root / "articles"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (corpus / "orchard.txt").write_text(ORCHARD, encoding="utf-8")
    gold = root / "tiny_gold.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in GOLD), encoding="utf-8")
    return gold, corpus


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny_run(tiny: tuple[Path, Path], embedder, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    gold, corpus = tiny
    out = tmp_path_factory.mktemp("run-a")
    # the subject is the harness: a fixed refusal threshold keeps the two-article corpus's
    # outcomes (bridge-cost answered, volcano refused) independent of the scorer's calibration
    return run_eval(gold, corpus, Settings(answer_mode="extractive", refusal_threshold=TINY_THRESHOLD),
                    out, embedder=embedder)


def test_new_gold_set_runs_and_writes_results_keyed_by_id(tiny_run) -> None:  # type: ignore[no-untyped-def]
    out = Path(tiny_run.out_dir)
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(data["cases"]) == IDS
    assert (out / "store").is_dir()  # default store: inside the run's folder
    assert data["settings"]["answer_mode"] == "extractive"
    assert data["ingest"]["n_articles"] == 2 and data["gold_warnings"] == []

    bridge = data["cases"]["bridge-cost"]
    assert bridge["question"] == GOLD[0]["question"] and not bridge["refused"]
    assert "42 million euros" in bridge["answer"]
    [c] = [c for c in bridge["citations"] if "42 million" in c["quote"]]
    assert c["valid"] and c["gold"] and c["path"].endswith("harbour.txt")
    assert c["end"] - c["start"] == len(c["quote"])
    assert bridge["passages"][0]["rank"] == 1 and "score" in bridge["passages"][0]
    assert bridge["metrics"]["hit_at_5"] == 1.0 and bridge["metrics"]["key_fact_full"] == 1.0
    assert set(bridge["timings"]) >= {"retrieve", "answer", "total"}

    follow = data["cases"]["orchard-why"]
    assert follow["history"] == GOLD[1]["history"]
    # the answerer's choice is not the subject here: the metrics must agree with what it said
    found = "drip irrigation" in follow["answer"].lower() and not follow["refused"]
    assert follow["key_facts_found"] == [found]
    assert follow["metrics"]["key_fact_full"] == float(found)
    assert follow["metrics"]["citation_recall"] == float(any(c["gold"] for c in follow["citations"]))
    assert follow["metrics"]["hit_at_5"] == 1.0  # each tiny article is one passage

    volcano = data["cases"]["volcano"]
    assert volcano["refused"] and volcano["metrics"]["refusal_correct"] == 1.0
    assert volcano["metrics"]["hit_at_5"] is None

    s = data["summary"]
    assert (s["hit_at_5"]["mean"], s["hit_at_5"]["n"]) == (1.0, 2)
    # the summary agrees with each case: answerable ones right when answered, volcano refused
    right = [not bridge["refused"], not follow["refused"], volcano["refused"]]
    assert (s["refusal_correct"]["mean"], s["refusal_correct"]["n"]) == (
        round(sum(right) / 3, 4), 3)
    assert s["citation_validity"]["mean"] == 1.0
    assert data["latency"]["total"]["n"] == 3


def test_report_and_plots_are_written(tiny_run) -> None:  # type: ignore[no-untyped-def]
    out = Path(tiny_run.out_dir)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| retrieval hit@5 | 1.000 | 2 |" in report
    data = load_results(out)
    failing = [cid for cid, c in data["cases"].items()
               if any(c["metrics"][g] is not None and c["metrics"][g] < 1 for g in
                      ("refusal_correct", "key_fact_full", "citation_recall", "citation_validity"))]
    assert "bridge-cost" not in failing and "volcano" not in failing
    assert f"## Failures ({len(failing)} of 3 cases)" in report
    for cid in failing:
        assert f"### {cid} (" in report
    assert "tiny_gold.jsonl" in report
    # the answering/refusing trade-off as the threshold varies, the one used marked
    assert "## Answering against refusing" in report and f"**{TINY_THRESHOLD:.2f} (used)**" in report
    assert data["refusal_threshold_used"] == TINY_THRESHOLD
    assert data["cases"]["bridge-cost"]["correct_if_answered"] is True
    assert data["cases"]["volcano"]["correct_if_answered"] is None
    for name in ("metrics_by_kind.png", "latency.png", "tradeoff.png"):
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, name
        assert f"]({name})" in report


def test_second_run_reuses_the_index_and_compare_reports_flips(
    tiny: tuple[Path, Path], tiny_run, embedder, tmp_path: Path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    gold, corpus = tiny
    strict = Settings(answer_mode="extractive", refusal_threshold=1.0,
                      store_path=str(Path(tiny_run.out_dir) / "store"))
    run_b = run_eval(gold, corpus, strict, tmp_path / "b", embedder=embedder, plots=False)
    assert run_b.ingest.count("unchanged") == 2 and run_b.ingest.n_embedded == 0
    assert all(r.answer.refused for r in run_b.cases)  # nothing reaches support 1.0

    code = eval_main(["--compare", tiny_run.results_path, str(tmp_path / "b"),
                      "--out", str(tmp_path / "cmp.md")])
    text = capsys.readouterr().out
    assert code == 0 and text == (tmp_path / "cmp.md").read_text(encoding="utf-8")
    a = tiny_run.results["cases"]
    answered = [cid for cid in ("bridge-cost", "orchard-why") if not a[cid]["refused"]]
    facts = [cid for cid in answered if a[cid]["metrics"]["key_fact_full"] == 1.0]
    assert "bridge-cost" in facts
    accuracy_a = tiny_run.results["summary"]["refusal_correct"]["mean"]
    accuracy_b = run_b.summary["refusal_correct"].mean  # volcano alone: 1 of 3
    assert accuracy_b == pytest.approx(1 / 3, abs=1e-3)
    assert (f"| refusal accuracy (all cases) | {accuracy_a:.3f} | {accuracy_b:.3f} | "
            f"{accuracy_b - accuracy_a:+.3f} |") in text
    assert f"- key_fact_full: pass -> fail: {', '.join(facts)}\n" in text
    assert f"- false_refusal: pass -> fail: {', '.join(answered)}\n" in text
    assert "volcano" not in text  # refused in both runs: no flip


def test_compare_of_identical_runs_reports_no_flips(tiny_run, capsys) -> None:  # type: ignore[no-untyped-def]
    assert eval_main(["--compare", tiny_run.results_path, tiny_run.results_path]) == 0
    out = capsys.readouterr().out
    assert "## Flipped cases (0)" in out and "| retrieval MRR | 1.000 | 1.000 | +0.000 |" in out


def test_qa_eval_command_end_to_end(tiny: tuple[Path, Path], tiny_run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                    capsys: pytest.CaptureFixture[str]) -> None:
    gold, corpus = tiny
    store = Path(tiny_run.out_dir) / "store"  # already built: the command only asks
    code = qa_main(["eval", "--gold", str(gold), "--corpus", str(corpus), "--out",
                    str(tmp_path / "cli"), "--store", str(store), "--mode", "extractive",
                    "--no-plots"])
    out = capsys.readouterr().out
    assert code == 0 and "| retrieval hit@5 | 1.000 | 2 |" in out
    assert set(load_results(tmp_path / "cli")["cases"]) == IDS


def test_bad_inputs_fail_with_clear_errors(tiny: tuple[Path, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    gold, _ = tiny
    assert qa_main(["eval", "--gold", str(tmp_path / "none.jsonl"), "--corpus", "x"]) == 1
    assert "none.jsonl does not exist" in capsys.readouterr().err
    assert qa_main(["eval", "--compare", str(gold), str(gold)]) == 1
    assert "tiny_gold.jsonl is not valid JSON" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}', encoding="utf-8")
    assert qa_main(["eval", "--compare", str(other), str(other)]) == 1
    assert "other.json is not a results.json of `qa eval`" in capsys.readouterr().err
    with pytest.raises(InputError, match="--corpus"):
        run_eval(gold, None, Settings(answer_mode="extractive"), tmp_path / "o")


def test_rgb_runs_three_settings_on_rgb_shaped_data(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from eval.rgb import run_rgb

    rows = [
        {"id": 0, "query": "Where was the 2031 Lantern Festival held?", "answer": "Kelvin Harbour",
         "fakeanswer": "Vessel Valley",
         "positive": ["The 2031 Lantern Festival was held in Kelvin Harbour on 3 May."],
         "positive_wrong": ["The 2031 Lantern Festival was held in Vessel Valley on 3 May."],
         "negative": ["Lantern makers sell paper shades at the spring market.",
                      "The 2030 Lantern Festival drew forty thousand visitors.",
                      "Click here to see the festival photos."]},  # clean-up drops: fails alone
        {"id": 1, "query": "Who won the 2031 Orchard Cup?", "answer": [["Tomas Wreede", "Wreede"]],
         "fakeanswer": "Mira Castellane",
         "positive": ["Tomas Wreede won the 2031 Orchard Cup with a late surge."],
         "positive_wrong": ["Mira Castellane won the 2031 Orchard Cup with a late surge."],
         "negative": ["The Orchard Cup is a cycling race through apple country.",
                      "The 2030 Lantern Festival drew forty thousand visitors."]},
    ]
    data = tmp_path / "rgb.json"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = run_rgb(data, tmp_path / "out", Settings(answer_mode="extractive"), embedder=embedder)
    by = {r.name: r for r in res.settings}
    assert set(by) == {"answering", "rejection", "counterfactual"}
    assert (by["answering"].n_snippets, by["rejection"].n_snippets,
            by["counterfactual"].n_snippets) == (7, 5, 7)
    assert all("1 failed" in r.ingest for r in res.settings)
    corpus = [json.loads(x) for x in
              (tmp_path / "out" / "answering" / "corpus.jsonl").read_text().splitlines()]
    assert corpus[0]["url"] == "rgb://0/pos/0" and corpus[1]["url"] == "rgb://0/neg/0"
    assert corpus[0]["title"] == "The 2031 Lantern Festival was held in Kelvin"
    assert "1 duplicate" in by["rejection"].ingest  # the same snippet under two questions
    for r in res.settings:  # each setting has its own store
        assert (tmp_path / "out" / r.name / "store").is_dir()
    # the shares are exactly what the per-question rows say
    for r in res.settings:
        for key, share in r.shares.items():
            assert share == sum(bool(q[key]) for q in r.rows) / len(r.rows), (r.name, key)
    assert by["answering"].shares["retrieved_answer"] == 1.0
    cf = by["counterfactual"]
    assert cf.shares["flags_disagreement"] == 0.0 and cf.shares["correct"] == 0.0
    report = (tmp_path / "out" / "rgb_report.md").read_text(encoding="utf-8")
    assert "NOT the same experiment" in report and "| 96.33 |" in report
    assert json.loads((tmp_path / "out" / "rgb_results.json").read_text())["results"][0]["name"] \
        == "answering"
