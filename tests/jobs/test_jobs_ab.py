"""A/B promotion: sticky assignment, and nothing promoted on noise."""
from __future__ import annotations

import random

from jobs.common.ab import decide
from memory.experiments import arm


def test_assignment_is_sticky_and_follows_the_share():
    ids = [f"conv-{i}" for i in range(4000)]
    first = [arm("exp-1", c, 0.2) for c in ids]
    assert first == [arm("exp-1", c, 0.2) for c in ids]
    share = first.count("candidate") / len(ids)
    assert 0.17 < share < 0.23
    assert all(arm("exp-1", c, 0.0) == "control" for c in ids[:100])
    assert all(arm("exp-1", c, 1.0) == "candidate" for c in ids[:100])


def _ab_run(rng: random.Random, p_control: float, p_candidate: float, conversations: int, share: float) -> bool:
    """One A/B experiment over sticky-split traffic; True when the candidate would be promoted."""
    exp = f"exp-{rng.random()}"
    tally = {"control": [0, 0], "candidate": [0, 0]}
    for i in range(conversations):
        side = arm(exp, f"conv-{i}", share)
        p = p_candidate if side == "candidate" else p_control
        tally[side][0] += rng.random() < p
        tally[side][1] += 1
    (ok_a, n_a), (ok_b, n_b) = tally["control"], tally["candidate"]
    return decide(ok_a, n_a, ok_b, n_b).promote


def test_two_identical_variants_never_promote():
    rng = random.Random(20261127)
    promotions = 0
    for run in range(2000):
        p = rng.choice([0.3, 0.5, 0.7, 0.85, 0.95])
        promotions += _ab_run(rng, p, p, conversations=rng.choice([250, 500, 1000]), share=rng.choice([0.2, 0.5]))
    assert promotions == 0


def test_a_real_improvement_is_promoted():
    rng = random.Random(7)
    promoted = sum(_ab_run(rng, 0.6, 0.85, conversations=800, share=0.5) for _ in range(50))
    assert promoted >= 45


def test_too_small_a_sample_never_promotes():
    d = decide(10, 50, 50, 50)
    assert not d.promote and "at least" in d.reason
    assert decide(0, 150, 150, 150).promote  # all-or-nothing arms still get a spread to test against
    assert not decide(150, 150, 150, 150).promote
