"""From similarity scores to probabilities, and how to tell whether those probabilities can be trusted.

The model: a softmax over the per-intent similarity scores with a temperature T, plus one extra "none of these"
outcome whose score is a constant b. So p(intent i) = exp(s_i/T) / (sum_j exp(s_j/T) + exp(b/T)). T sets how
sharply a lead in similarity turns into confidence; b makes a message that is far from every example (all scores
low) come out unsure even when one intent is slightly ahead.

Both are fitted by maximum likelihood on held-out readings (leave-one-out over the intent examples, plus
out-of-scope messages labelled "none"). In the parameters a = 1/T and c = b/T the logits are linear, so the
negative log-likelihood is convex and Newton's method finds the one optimum; no randomness is involved.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fit:
    temperature: float
    none_score: float
    log_loss: float
    iterations: int


def probabilities(scores: np.ndarray, temperature: float, none_score: float) -> np.ndarray:
    """(n, m) scores -> (n, m + 1) probabilities; the last column is "none of these intents"."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    logits = np.concatenate([s, np.full((s.shape[0], 1), none_score)], axis=1) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def log_loss(probs: np.ndarray, targets: np.ndarray) -> float:
    p = probs[np.arange(len(targets)), targets]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def fit(scores: np.ndarray, targets: np.ndarray, *, l2: float = 1e-4, max_iter: int = 100) -> Fit:
    """Maximum-likelihood temperature and none-score. targets index the columns of scores; the value m
    (one past the last intent) means "none of these"."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64)
    n, m = s.shape
    if n == 0 or len(y) != n:
        raise ValueError("calibration needs one target per row of scores, and at least one row")
    if y.min() < 0 or y.max() > m:
        raise ValueError(f"calibration targets must lie in 0..{m} ({m} means none of the intents)")
    # Features per outcome: intents carry (s_i, 0), "none" carries (0, 1); logits = theta . features.
    feats = np.zeros((n, m + 1, 2))
    feats[:, :m, 0] = s
    feats[:, m, 1] = 1.0
    target_feats = feats[np.arange(n), y]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        logits = feats @ theta
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        mean_f = np.einsum("nk,nkd->nd", p, feats)
        nll = -np.mean(np.log(np.clip(p[np.arange(n), y], 1e-300, 1.0))) + 0.5 * l2 * theta @ theta
        grad = np.mean(mean_f - target_feats, axis=0) + l2 * theta
        second = np.einsum("nk,nkd,nke->de", p, feats, feats) / n
        hess = second - np.einsum("nd,ne->de", mean_f, mean_f) / n + l2 * np.eye(2)
        return nll, grad, hess

    theta = np.array([10.0, 5.0])  # T = 0.1, b = 0.5: a sensible start for cosine similarities
    value, grad, hess = objective(theta)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while True:  # backtracking keeps every Newton step a descent step
            candidate = theta - t * step
            c_value, c_grad, c_hess = objective(candidate)
            if c_value <= value - 1e-4 * t * grad @ step or t < 1e-6:
                break
            t *= 0.5
        converged = abs(value - c_value) < 1e-12
        theta, value, grad, hess = candidate, c_value, c_grad, c_hess
        if converged or np.linalg.norm(grad) < 1e-10:
            break
    a, c = float(theta[0]), float(theta[1])
    if a <= 0:
        raise ValueError("calibration failed: higher similarity did not mean higher likelihood on these examples")
    probs = probabilities(s, 1.0 / a, c / a)
    return Fit(temperature=1.0 / a, none_score=c / a, log_loss=log_loss(probs, y), iterations=iterations)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by how many readings fall in each."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if len(conf) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(ok[mask].mean() - conf[mask].mean())
    return float(total / len(conf))
