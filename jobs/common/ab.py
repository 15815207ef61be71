"""The promotion rule for A/B splits (the split itself: memory.experiments.arm, sticky per conversation).

Promotion needs a minimum sample in each arm and a one-sided two-proportion
z-test against a margin: the candidate must beat the control by more than `margin` at significance `alpha`.
Testing against a margin rather than against zero is what keeps two identical variants from ever being promoted
on noise, however often the test is repeated.
"""
from __future__ import annotations

import math

from pydantic import BaseModel, Field

MIN_PER_ARM = 100
ALPHA = 0.001
MARGIN = 0.05


class Decision(BaseModel):
    promote: bool
    reason: str
    control_rate: float | None = None
    candidate_rate: float | None = None
    n_control: int = 0
    n_candidate: int = 0
    z: float | None = None
    p_value: float | None = None
    margin: float = Field(default=MARGIN)
    alpha: float = Field(default=ALPHA)


def decide(control_ok: int, n_control: int, candidate_ok: int, n_candidate: int, *, min_per_arm: int = MIN_PER_ARM,
           alpha: float = ALPHA, margin: float = MARGIN) -> Decision:
    base = dict(n_control=n_control, n_candidate=n_candidate, margin=margin, alpha=alpha)
    if min(n_control, n_candidate) < min_per_arm:
        return Decision(promote=False, reason=f"needs at least {min_per_arm} outcomes per arm", **base)
    pa, pb = control_ok / n_control, candidate_ok / n_candidate
    base.update(control_rate=round(pa, 4), candidate_rate=round(pb, 4))
    se = math.sqrt(pa * (1 - pa) / n_control + pb * (1 - pb) / n_candidate)
    if se == 0:  # both arms all-or-nothing: no spread to estimate, so assume the widest (p = 0.5)
        se = math.sqrt(0.25 / n_control + 0.25 / n_candidate)
    z = (pb - pa - margin) / se
    p = 0.5 * math.erfc(z / math.sqrt(2))
    promote = p < alpha
    reason = (f"candidate {pb:.1%} vs control {pa:.1%}: better by more than {margin:.0%} (p={p:.2g} < {alpha})"
              if promote else f"candidate {pb:.1%} vs control {pa:.1%}: not shown better by {margin:.0%} "
                              f"(p={p:.2g}, needs < {alpha})")
    return Decision(promote=promote, reason=reason, z=round(z, 3), p_value=p, **base)


def families_worse(control: dict, candidate: dict) -> list[str]:
    """The scenario families whose resolution rate is lower in `candidate` than in `control` (evaluation results
    with a "by_family" map of rates)."""
    return sorted(f for f, rate in candidate["by_family"].items() if rate < control["by_family"].get(f, 0.0))
