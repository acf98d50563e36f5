"""The answer scorer's model: shipped weights load offline and fast, fitting is deterministic, and
the training script's threshold choice weighs a cited non-answer below a refusal."""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest

from eval.gold import GoldCase
from eval.train_reader import Question, choose_threshold, out_of_fold, outcomes, predict, train
from qa.reader import LEXICAL, MODEL_PATH, RERANK, Linear, Reader, fit


def test_the_shipped_weights_load_offline_in_under_a_second() -> None:
    t0 = time.perf_counter()
    r = Reader.load()
    assert time.perf_counter() - t0 < 1.0
    assert r.stage1.weights.shape == (len(LEXICAL),) and r.stage2.weights.shape == (len(RERANK),)
    assert 0.0 < r.threshold < 1.0 and r.top_m >= 1
    meta = r.meta or {}
    # trained on the train split only: no check file among its data
    assert meta["gold_files"] and not any("check" in f for f in meta["gold_files"])  # type: ignore[union-attr]
    card = (MODEL_PATH.parent / "READER.md").read_text(encoding="utf-8")
    stage2_threshold = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["threshold"]
    assert f"{stage2_threshold:.2f}" in card and "check" in card and "CROSS.md" in card


def test_weights_of_other_features_are_refused_with_the_remedy(tmp_path: Path) -> None:
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    data["stage1"]["features"] = data["stage1"]["features"][:-1]
    bad = tmp_path / "reader.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="python -m eval.train_reader"):
        Reader.load(bad)
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="python -m eval.train_reader"):
        Reader.load(tmp_path / "broken.json")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    shipped = Reader.load()
    with pytest.raises(ValueError, match="eval/train_cross.py"):
        shipped.save(tmp_path / "r.json")  # stages 1-2 only: the third reads their output
    r = dataclasses.replace(shipped, cross=None)
    r.save(tmp_path / "r.json")
    again = Reader.load(tmp_path / "r.json")
    x = np.random.default_rng(0).normal(size=(5, len(LEXICAL))).astype(np.float32)
    assert np.allclose(r.stage1.predict(x), again.stage1.predict(x), atol=1e-5)
    assert again.threshold == pytest.approx(r.threshold, abs=1e-4)


def _data(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(float)
    return x, y


def test_fit_is_deterministic_and_finds_the_signal() -> None:
    x, y = _data()
    a = fit(x, y, l2=1.0)
    b = fit(x, y, l2=1.0)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True) if isinstance(u, np.ndarray))
    w = a[0]
    assert w[0] > 1.0 and w[1] < -0.3 and abs(w[2]) < 0.3  # the third column is noise
    acc = ((Linear(*a).predict(x.astype(np.float32)) > 0.5) == y).mean()
    assert acc > 0.9


def _question(i: int, answerable: bool, rng: np.random.Generator) -> Question:
    n = 12
    x = rng.normal(size=(n, len(LEXICAL))).astype(np.float32)
    y = np.zeros(n, np.float32)
    if answerable:
        y[0] = 1.0
        x[0, 0] += 3.0  # the answer stands out on one feature
    sem = rng.uniform(0, 1, n).astype(np.float32)
    case = GoldCase(id=f"q{i}", kind="factoid", history=(), question="q?", answer="",
                    answerable=answerable, must_include=(), evidence=())
    return Question(case, x, sem, sem.copy(), y, i % 5)


def test_training_is_reproducible_and_the_threshold_prefers_refusing_to_a_wrong_answer() -> None:
    rng = np.random.default_rng(1)
    qs = [_question(i, i % 3 != 0, rng) for i in range(60)]
    s1, s2 = train(qs, l2=1.0, top_m=4)
    t1, t2 = train(qs, l2=1.0, top_m=4)
    assert np.array_equal(s1.weights, t1.weights) and np.array_equal(s2.weights, t2.weights)
    probs = [predict(q, s1, s2, top_m=4) for q in qs]
    assert all(int((p > 0).sum()) <= 4 for p in probs)  # only the shortlist gets a probability
    best = choose_threshold(qs, probs)
    assert best["utility"] == max(outcomes(qs, probs, t)["utility"]
                                  for t in np.round(np.arange(0.05, 0.96, 0.01), 2))
    # the utility: +1 right, +1 correct refusal, -1 cited non-answer, 0 false refusal
    never = outcomes(qs, probs, 0.0)
    n_un = sum(not q.case.answerable for q in qs)
    assert never["refused_right"] == 0.0 and never["cited_non_answer"] >= n_un / len(qs)
    always = outcomes(qs, probs, 1.01)
    assert always["utility"] == n_un and always["false_refusal"] == 1.0


def test_a_refusal_floor_keeps_the_threshold_where_it_refuses_enough_near_misses() -> None:
    # a flat utility: each near miss refused (+2: no cited non-answer, a right refusal) costs two
    # right answers just above it, so the lowest near-best threshold refuses one in five
    def q(i: int, answerable: bool) -> Question:
        case = GoldCase(id=f"q{i}", kind="", history=(), question="q?", answer="",
                        answerable=answerable, must_include=(), evidence=())
        return Question(case, np.zeros((1, 0)), np.zeros(1), np.zeros(1),
                        np.array([1.0 if answerable else 0.0], np.float32), 0)

    qs, probs = [], []
    for k, p in enumerate((0.15, 0.25, 0.35, 0.45, 0.55)):
        qs.append(q(3 * k, False))
        probs.append(np.array([p]))
        for j in (1, 2):
            qs.append(q(3 * k + j, True))
            probs.append(np.array([p + 0.02]))
    qs += [q(100 + i, True) for i in range(10)]
    probs += [np.array([0.9])] * 10
    free = choose_threshold(qs, probs)
    assert free["refused_right"] == 0.2
    held = choose_threshold(qs, probs, min_refused=0.6)
    assert held["refused_right"] >= 0.6 and held["threshold"] > free["threshold"]
    assert held["best_utility"] == free["best_utility"]  # still a best point, above the floor
    # a floor nothing reaches: the strictest threshold of the grid
    assert choose_threshold(qs, probs, min_refused=1.1)["threshold"] == 0.95


def test_the_headline_feature_means_the_headline_not_the_first_sentence() -> None:
    from qa.reader import is_headline

    assert is_headline("Harbour bridge reopens after repairs", "Harbour bridge reopens after repairs")
    assert is_headline("Harbour bridge reopens after repairs.", "Harbour Bridge Reopens After Repairs")
    # a snippet whose title is its first words: its first sentence is content, not a headline
    assert not is_headline("Mar 3, 2024 ... The harbour festival will take place at the old "
                           "quay in Port Quellin.", "Mar 3, 2024 ... The harbour festival will")
    assert not is_headline("", "Title") and not is_headline("Text.", "")


def test_a_damaged_weights_file_is_a_config_error_that_says_how_to_rebuild(
        tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from qa import Assistant, Settings
    from qa.errors import ConfigError

    broken = tmp_path / "reader.json"
    broken.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr("qa.reader.MODEL_PATH", broken)
    with pytest.raises(ConfigError, match="python -m eval.train_reader"):
        Assistant.open(Settings(store_path=str(tmp_path / "store")), embedder=embedder)


def test_out_of_fold_fits_on_one_pool_and_predicts_on_another() -> None:
    """eval.train_reader fits on small-passage pools and calibrates on the pools the answerer
    reads: each fold's model is fitted on the *fit* pools of the other folds' questions."""
    rng = np.random.default_rng(2)
    small = [_question(i, i % 3 != 0, rng) for i in range(40)]
    read = [_question(i, i % 3 != 0, rng) for i in range(40)]  # same questions, other pools
    probs = out_of_fold(read, 1.0, small)
    s1, s2 = train([q for q in small if q.fold != 0], 1.0)
    for i, q in enumerate(read):
        if q.fold == 0:
            assert np.allclose(probs[i], predict(q, s1, s2))
    s1r, s2r = train([q for q in read if q.fold != 0], 1.0)
    assert any(not np.allclose(probs[i], predict(q, s1r, s2r))
               for i, q in enumerate(read) if q.fold == 0)
