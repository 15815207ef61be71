"""Knowledge gaps in the learn job: which questions count as gaps, how they cluster (real embedding model), and that
runs are incremental and leave no orphan report (real LanceDB)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from jobs.intent.knowledge_gaps import CLUSTER_MIN_SIMILARITY, cluster, conversation_gaps, learn_gaps
from memory.kb_gaps import gap_reports

T0 = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
TOPICS = {
    "esim": ["What is an eSIM and can I get one?", "Can I switch my SIM card to an eSIM?", "do you support esim",
             "How do I activate an eSIM on my new phone?", "How much does an eSIM cost?"],
    "voicemail": ["How do I set up voicemail on my phone?", "how can I change my voicemail greeting",
                  "voicemail isn't set up, how do I do it"],
    "insurance": ["Do you sell phone insurance?", "Can I insure my phone with you?"],
    "students": ["Do you offer a discount for students?", "is there a student deal"],
}


def turn(n: int, question: str | None = None, *, confident: bool = True, shown: bool = True, score: float = 0.6,
         rule: str | None = None) -> dict:
    trace: dict = {"escalation_rule": rule}
    if question is not None:
        trace["knowledge"] = {"question": question, "best_score": score, "confident": confident, "shown": shown}
    return {"turn_id": f"c1:{n}", "conversation_id": "c1", "created_at": T0 + timedelta(minutes=n),
            "trace": {"trace": trace}}


def reasons(turns, feedback=None) -> dict[str, str]:
    return {g["question"]: g["reason"] for g in conversation_gaps(turns, feedback)}


def test_what_counts_as_a_gap():
    unanswered = turn(1, "What is an eSIM and can I get one?", confident=False, shown=False, score=0.21)
    weak = turn(2, "How much is roaming in Japan per day?", score=0.4)
    fine = turn(3, "How do I turn on data roaming?", score=0.7)
    assert reasons([unanswered, weak, fine]) == {"What is an eSIM and can I get one?": "low_score",
                                                "How much is roaming in Japan per day?": "low_score"}
    # A good-looking answer followed by a person taking over within two turns; not three turns later, and not a
    # conversation that was already with a person.
    assert reasons([fine, turn(4, rule="wants_person")]) == {"How do I turn on data roaming?": "handed_over"}
    assert reasons([fine, turn(4), turn(5), turn(6, rule="wants_person")]) == {}
    assert reasons([fine, turn(4, rule="already_with_person")]) == {}
    # The customer said it did not help: only the last answer they were shown is blamed.
    other = turn(5, "Can I keep my number if I leave?", score=0.7)
    assert reasons([fine, other], {"csat": 4, "resolved": False}) == {"Can I keep my number if I leave?": "not_helpful"}
    assert reasons([fine, other], {"csat": 1, "resolved": True}) == {"Can I keep my number if I leave?": "not_helpful"}
    assert reasons([fine, other], {"csat": 4, "resolved": True}) == {}
    # Small talk is not a question for the knowledge base; an answer not shown was not judged by the customer.
    assert reasons([turn(1, "hello there", confident=False, shown=False, score=0.1)]) == {}
    assert reasons([turn(1, "my internet keeps dropping", shown=False, score=0.5)], {"csat": 1, "resolved": False}) == {}


def questions(embedder, texts: list[str], start: int = 0) -> list[dict]:
    vectors = embedder.embed(texts)
    return [{"question_id": f"q{start + i:03d}", "question": t, "reason": "low_score", "best_score": 0.2 + i / 100,
             "asked_at": T0 + timedelta(minutes=start + i), "vector": v.tolist()} for i, (t, v) in enumerate(zip(texts, vectors))]


def test_questions_cluster_by_topic_deterministically_and_keep_their_ids(embedder):
    # Interleaved, as customers ask them.
    order = [t for group in zip(*[g + [None] * (5 - len(g)) for g in TOPICS.values()]) for t in group if t]
    qs = questions(embedder, order)
    reports = cluster(qs)
    topic_of = {t: name for name, g in TOPICS.items() for t in g}
    found = sorted(sorted({topic_of[e] for e in r["examples"]}) for r in reports)
    assert found == [["esim"], ["insurance"], ["students"], ["voicemail"]], (CLUSTER_MIN_SIMILARITY, reports)
    esim = next(r for r in reports if topic_of[r["question"]] == "esim")
    assert esim["count"] == 5 and len(esim["examples"]) == 5 and esim["best_score"] == max(
        q["best_score"] for q in qs if topic_of[q["question"]] == "esim")
    def same(rs):
        return [{k: v for k, v in r.items() if k != "updated_at"} for r in rs]

    assert same(cluster(list(reversed(qs)))) == same(reports)  # the order asked decides, not the order read
    later = questions(embedder, ["Is an eSIM available for my phone?"], start=len(qs))
    grown = {r["gap_id"]: r["count"] for r in cluster(qs + later)}
    assert grown == {**{r["gap_id"]: r["count"] for r in reports}, esim["gap_id"]: 6}


def test_learn_gaps_reads_the_turns_log_once_and_leaves_no_orphan(store, writer, embedder):
    def log(conversation: str, seq: int, question: str, at: datetime) -> dict:
        out = {"trace": {"knowledge": {"question": question, "best_score": 0.2, "confident": False,
                                       "shown": False}}}
        return {"turn_id": f"{conversation}:{seq}", "conversation_id": conversation, "seq": seq, "role": "agent",
                "text": "...", "trace": json.dumps(out), "created_at": at}

    writer.append("turns", [log("c1", 2, "What is an eSIM and can I get one?", T0),
                            log("c2", 2, "Do you sell phone insurance?", T0 + timedelta(minutes=1))])
    first = learn_gaps(store, writer, embedder)
    assert first["new_questions"] == 2 and first["reports"] == 2
    again = learn_gaps(store, writer, embedder)
    assert again["new_questions"] == 0 and again["stored_questions"] == 2  # nothing counted twice

    writer.append("turns", [log("c3", 2, "Can I insure my phone with you?", T0 + timedelta(hours=1))])
    writer.upsert("kb_gaps", [{"gap_id": "gap-stale", "question": "an old cluster", "count": 1,
                               "first_seen": T0, "last_seen": T0, "updated_at": T0}])
    third = learn_gaps(store, writer, embedder)
    assert third["new_questions"] == 1 and third["stored_questions"] == 3 and third["removed"] == 1
    reports = gap_reports(store)
    assert [(g.count, g.reasons) for g in reports] == [(2, {"low_score": 2}), (1, {"low_score": 1})]
    assert "Can I insure my phone with you?" in reports[0].examples and store.table("kb_gaps").count_rows() == 2
