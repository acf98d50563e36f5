"""The refusal threshold is chosen reproducibly from scores, in the middle of the widest gap."""

from eval.calibrate import choose_threshold


def test_separable_scores_put_the_threshold_mid_gap() -> None:
    t, correct = choose_threshold([0.5, 0.6, 0.9], [0.1, 0.3])
    assert correct == 5
    assert t == 0.4


def test_overlap_takes_the_most_correct_cases() -> None:
    # one unanswerable case scores above one answerable: 4 of 5 is the best possible
    t, correct = choose_threshold([0.35, 0.6, 0.7], [0.1, 0.4])
    assert correct == 4
    assert 0.4 < t <= 0.6 or 0.1 < t <= 0.35
