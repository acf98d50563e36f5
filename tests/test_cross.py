"""The reader's third stage: the shipped cross-encoder loads offline, is small, reads a question
and a sentence together (so the sentence that fills the question's gap beats the one that only
restates its subject), and the third stage's probabilities are what the answer cites and refuses
by. The sentences below are written for these tests: no gold case's words."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from eval.train_cross import (
    TOP_K,
    TRAIN_TOP,
    Pool,
    calibrate,
    pool_query,
    pool_sentences,
    stage3_rows,
    trained,
)
from qa.cross import (
    CROSS_PATH,
    TITLE_WORDS,
    CrossEncoder,
    encode_pairs,
    encoder,
    query_text,
    sentence_text,
)
from qa.errors import ConfigError
from qa.reader import MODEL_PATH, Linear, Reader

ROOT = Path(__file__).resolve().parents[1]

# (question, a sentence that answers it, one that names its subject without answering)
GAPS = [
    ("How old is Maria Lindqvist?",
     "Lindqvist, 34, joined the orchestra from Stockholm in 2015.",
     "Maria Lindqvist spoke to reporters after the concert on Tuesday."),
    ("Why did the council close the bridge?",
     "The bridge was shut because engineers found cracks in two of its main supports.",
     "The council closed the bridge on Monday, a spokesman for the council said."),
    ("How much did the new stadium cost?",
     "The stadium was finished last spring at a cost of £45m.",
     "Fans have given the new stadium mixed reviews since it opened."),
    ("Who is the chief executive of Norland Air?",
     "Norland Air's chief executive, Peter Vance, said the airline would cut fares.",
     "Norland Air said it would announce its results next week."),
    ("When will the trial begin?",
     "The trial is due to begin on 14 March at the High Court.",
     "Lawyers for both sides said they were ready for the trial."),
    ("How many jobs will be lost at the plant?",
     "About 1,200 jobs will go at the plant over the next two years.",
     "Unions said the news about the plant was a blow to the town."),
]


def test_the_shipped_cross_encoder_is_small_loads_offline_and_was_calibrated_on_train() -> None:
    assert CROSS_PATH.stat().st_size < 30_000_000
    r = Reader.load()
    assert r.cross is not None and r.cross.weights.shape == (2,) and r.cross_top >= 1
    assert 0.0 < r.threshold < 1.0
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert r.threshold == pytest.approx(data["cross"]["threshold"])
    meta = r.cross_meta or {}
    assert meta["cal_questions"] and meta["train_questions"]
    card = (CROSS_PATH.parent / "CROSS.md").read_text(encoding="utf-8")
    assert f"{meta['cal']['threshold']:.2f}" in card and "check" in card  # type: ignore[index]
    # the cross-encoder's own word is what lifts a sentence: a positive weight
    assert float(r.cross.weights[1]) > 0


def test_a_sentence_that_answers_beats_one_that_only_names_the_subject() -> None:
    ce = CrossEncoder.shared()
    wins = 0
    for question, answers, restates in GAPS:
        a, b = ce.logits(query_text(question), [answers, restates])
        wins += a > b
    assert wins >= len(GAPS) - 1, wins


def test_the_cross_encoder_reads_a_follow_up_after_the_turn_it_leans_on() -> None:
    # the caller passes only the turns a follow-up leans on (qa/followup.py); the last is read
    assert query_text("How old is she?", ["Who is Maria Lindqvist?"]) == \
        "Who is Maria Lindqvist? How old is she?"
    assert query_text("How old is she?", ["Who won?", " Who is Maria Lindqvist? "]) == \
        "Who is Maria Lindqvist? How old is she?"
    assert query_text("  Where?  ") == "Where?"


def test_the_cross_encoder_reads_a_sentence_after_its_articles_title() -> None:
    title = "Lindqvist leaves Stockholm orchestra"
    assert sentence_text(title, "She is 34.") == "Lindqvist leaves Stockholm orchestra. She is 34."
    # the headline itself (a passage's first sentence) is read once
    assert sentence_text(title, title + " for Berlin") == title + " for Berlin"
    assert sentence_text("", " She is 34. ") == "She is 34."
    long = " ".join(f"w{i}" for i in range(40))
    assert sentence_text(long, "x").split(". ")[0].split() == long.split()[:TITLE_WORDS]


def test_the_sentence_a_title_turns_around() -> None:
    # the sentence that answers names its subject only as "she"; the title says who she is
    ce = CrossEncoder.shared()
    q = "How old is Maria Lindqvist?"
    answers, restates = "She is 34 and has played the cello since she was six.", \
        "Maria Lindqvist spoke to reporters after the concert on Tuesday."
    title = "Maria Lindqvist leaves Stockholm orchestra"
    a, b = ce.logits(query_text(q), [sentence_text(title, answers), sentence_text(title, restates)])
    assert a > b


def test_pairs_are_cut_to_the_limit_and_keep_both_sides() -> None:
    tok = encoder(64)
    ids, mask, types = encode_pairs(tok, "Who won? " * 5, ["word " * 200, "short one."])
    assert ids.shape == (2, 64) and mask[0].sum() == 64
    assert types[0].max() == 1 and types[0][0] == 0  # the sentence is the second segment
    assert mask[1].sum() < 64 and ids[1][mask[1].sum():].sum() == 0  # padded with 0


def test_missing_weights_say_how_to_rebuild_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="python -m eval.train_cross"):
        CrossEncoder(tmp_path / "cross.onnx")


def test_an_assistant_without_the_cross_encoder_file_is_a_config_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.cross
    from qa.api import Assistant
    from qa.settings import Settings

    monkeypatch.setattr(qa.cross, "CROSS_PATH", tmp_path / "gone.onnx")
    with pytest.raises(ConfigError, match="python -m eval.train_cross"):
        Assistant.open(Settings(store_path=str(tmp_path / "store")))


def _reader_with(w: tuple[float, float], b: float = 0.0, top: int = 2) -> Reader:
    r = Reader.load()
    lin = Linear(np.asarray(w, np.float32), b, np.zeros(2, np.float32), np.ones(2, np.float32))
    return dataclasses.replace(r, cross=lin, cross_top=top)


def test_the_third_stage_reorders_the_best_and_keeps_the_rest_under_them() -> None:
    r = _reader_with((1.0, 2.0), top=2)
    p2 = np.array([0.6, 0.2, 0.7, 0.5], np.float32)
    # the cross-encoder reads the two best by the second stage: index 2 (0.7) then 0 (0.6)
    out = r.rescore(p2, np.array([-3.0, 3.0], np.float32))
    assert out[0] > out[2]  # its word turns the order
    assert max(out[1], out[3]) <= min(out[0], out[2])  # the unread stay under the read
    assert out[1] <= p2[1] and out[3] <= p2[3]
    # without a third stage, the second's probabilities stand
    assert np.array_equal(dataclasses.replace(r, cross=None).rescore(p2, np.ones(2)), p2)
    assert len(r.rescore(np.zeros(0, np.float32), np.zeros(0, np.float32))) == 0


def test_calibration_learns_to_trust_a_cross_encoder_that_knows_the_answer() -> None:
    rng = np.random.default_rng(0)
    pools = []
    for i in range(300):
        answerable = i % 4 != 0
        y = [0.0] * 6
        if answerable:
            y[int(rng.integers(0, 6))] = 1.0
        p2 = rng.uniform(0.1, 0.6, 6).tolist()  # the second stage: no idea
        p = Pool(f"q{i}", "Who?", [], answerable, 0, [f"s{k}" for k in range(6)], y, p2)
        top, _ = stage3_rows(dataclasses.replace(p, ce=[0.0] * 4))
        p.ce = [4.0 * y[k] - 2.0 + 0.3 * float(rng.normal()) for k in top]  # it knows
        pools.append(p)
    stage3, chosen, before = calibrate(pools, Reader.load())
    assert float(stage3.weights[1]) > 1.0 > abs(float(stage3.weights[0]))
    assert chosen["utility"] > before["utility"]
    assert chosen["answered_right"] > before["answered_right"]


def test_fine_tuning_reads_the_second_stages_best_and_every_gold_sentence() -> None:
    # 8 sentences: the gold one ranked last by the second stage, one left out (-1: it states
    # the key facts without being the quoted evidence)
    p2 = [0.9, 0.1, 0.8, 0.7, 0.05, 0.6, 0.5, 0.4]
    y = [0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    rows = trained(Pool("q", "Who?", [], True, 0, ["s"] * 8, y, p2))
    best = sorted(range(8), key=lambda i: -p2[i])[:TRAIN_TOP]
    assert rows == sorted({i for i in best if y[i] == 0} | {4})
    assert 2 not in rows and 1 not in rows  # left out; below the best TRAIN_TOP
    assert TRAIN_TOP >= TOP_K  # at least what the answerer reads


def test_the_training_query_is_the_answerers_query() -> None:
    from qa.followup import context_turns

    for question, history in (("How old is she?", ["Who is Maria Lindqvist?"]),
                              ("Who chairs the committee?", ["What happened?"])):
        p = Pool("q", question, history, True, 0, ["s"], [1.0], [0.5], [], ["T"])
        assert pool_query(p) == query_text(question, context_turns(question, history))
        assert pool_sentences(p) == [sentence_text("T", "s")]
    # shortlists collected before titles were kept read the sentence alone
    assert pool_sentences(Pool("q", "Who?", [], True, 0, ["s"], [1.0], [0.5])) == ["s"]
    # a follow-up is read after the sentence its earlier turn is answered with (kept at
    # collection, Assistant.referent), as the answerer reads it; a question of its own alone
    ref = "Maria Lindqvist, the orchestra's cellist, leaves in May."
    follow = Pool("q", "How old is she?", ["Who is Maria Lindqvist?"], True, 0, ["s"], [1.0],
                  [0.5], [], ["T"], ref)
    assert pool_query(follow) == query_text("How old is she?", [ref])
    alone = dataclasses.replace(follow, question="Who chairs the committee?")
    assert pool_query(alone) == "Who chairs the committee?"


def test_training_collects_the_second_stages_probabilities_even_with_a_third_shipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import eval.train_cross as tc
    import eval.train_reader as tr
    from qa.api import Assistant
    from qa.settings import Settings

    shipped = Reader.load()
    assert shipped.cross is not None
    monkeypatch.setattr(tr, "CROSS_TRAIN", (("eval/gold.jsonl", "sample"),))  # what it reads
    pools = tc.collect("", tmp_path, shipped)
    assert len(pools) == 24
    assert all(len(p.texts) == len(p.y) == len(p.p2) == len(p.titles) for p in pools)
    assert sum(any(y > 0 for y in p.y) for p in pools) >= 15  # gold evidence is labelled
    two = dataclasses.replace(shipped, cross=None)
    bot = Assistant.open(Settings(store_path=str(tmp_path / "sample")), reader=two)
    three = Assistant.open(Settings(store_path=str(tmp_path / "sample3")), reader=shipped,
                           embedder=bot.embedder)
    try:
        three.ingest([ROOT / "data" / "articles"])
        # each sentence's title is its article's, as the answerer passes it
        titles = {t for p in pools for t in p.titles}
        assert titles and titles <= {a.meta.title for a in bot.articles()}
        differ = 0
        for p in pools[:6]:
            s2 = bot.score(p.question, p.history)
            s3 = three.score(p.question, p.history)
            assert np.allclose(p.p2, s2.probs[s2.shortlist], atol=1e-6)
            differ += not np.allclose(s2.probs, s3.probs)
        assert differ  # the third stage is not what was kept
    finally:
        bot.close()
        three.close()


def test_the_answerer_reads_each_sentence_after_its_articles_title(
        sample_bot, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    read: list[str] = []
    real = CrossEncoder.logits

    def spy(self: CrossEncoder, query: str, sentences: list[str]) -> np.ndarray:
        read.extend(sentences)
        return real(self, query, sentences)

    monkeypatch.setattr(CrossEncoder, "logits", spy)
    s = sample_bot.score("Why did Lively drop the distress claim?", [])
    best = [s.candidates[i] for i in s.shortlist]
    want = {sentence_text(c.passage.article.title, c.text) for c in best}
    assert read and set(read) <= want
    assert set(read) - {c.text for c in best}  # with their titles, not bare
