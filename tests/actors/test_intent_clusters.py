"""ExampleIndex clusters: learned rows in another register score as a group of their own, so they cannot pull the
catalogue's centroid of their intent away from the messages it already read right."""
from __future__ import annotations

import numpy as np
import pytest

from actors.agents.intent import MIN_LEARNED_CLUSTER, ExampleIndex, example_clusters
from telco.errors import InvalidInput
from telco.intents import load_intents


def unit(*v: float) -> np.ndarray:
    a = np.array(v, dtype=np.float64)
    return a / np.linalg.norm(a)


@pytest.mark.parametrize("method,k", [("centroid", 0), ("knn", 1), ("blend", 3)])
def test_an_intent_scores_as_its_best_cluster_and_learned_rows_leave_the_catalogue_centroid_alone(method, k):
    intents = ["a", "b"]
    formal = [unit(1, 0.1, 0), unit(1, -0.1, 0)]  # intent a, the catalogue's wording
    other = [unit(0, 1, 0.1), unit(0, 1, -0.1)]  # intent b
    informal = [unit(0.1, 0, 1), unit(-0.1, 0, 1), unit(0, 0.1, 1)]  # intent a, learned, another register
    vectors = np.stack(formal + other + informal)
    labels = np.array([0, 0, 1, 1, 0, 0, 0])
    clusters = np.array([0, 0, 1, 1, 2, 2, 2])
    split = ExampleIndex(intents, labels, vectors, method, k, clusters)
    pooled = ExampleIndex(intents, labels, vectors, method, k)
    catalogue_only = ExampleIndex(intents, labels[:4], vectors[:4], method, k)
    q_formal, q_informal = unit(1, 0, 0), unit(0, 0, 1)
    # Each register reads as intent a; the formal query scores exactly as with the catalogue alone.
    assert np.allclose(split.scores(q_formal), catalogue_only.scores(q_formal))
    assert split.scores(q_informal).argmax() == 0
    if method == "centroid":  # pooled, the informal rows drag a's centroid away from the formal query
        assert pooled.scores(q_formal)[0, 0] < split.scores(q_formal)[0, 0]
    # Leave-one-out still hides the example itself.
    assert split.leave_one_out().shape == (7, 2)


def test_learned_rows_form_a_cluster_of_their_own_only_when_there_are_enough_of_them():
    catalogue = load_intents()
    intents = list(catalogue)
    m, a, b = len(intents), intents.index("mobile_data"), intents.index("mms")
    learned = [("mobile_data", f"me phone's net is banjaxed {n}") for n in range(MIN_LEARNED_CLUSTER)]
    rows = [("mobile_data", catalogue["mobile_data"].examples[0]), *learned,
            ("mms", catalogue["mms"].examples[0]), ("mms", "me pics won't send")]
    got = example_clusters(rows, intents).tolist()
    assert got == [a] + [a + m] * MIN_LEARNED_CLUSTER + [b, b]  # one learned mms row joins the catalogue's
    assert example_clusters(rows[:2], intents).tolist() == [a, a]
    with pytest.raises(InvalidInput):
        ExampleIndex(["a", "b"], np.array([0, 1]), np.eye(2), "centroid", 0, clusters=np.array([0, 0]))
