"""The intent agent with the real embedding model (all-MiniLM-L6-v2, offline), loaded once for this module.

The scenario opening messages are the held-out test set: they are never classifier examples and never fitted on.
"""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import yaml

from actors.agents.intent import CALIBRATION_FILE, IntentAgent, catalogue_examples, load_calibration
from actors.agents.intent_eval import calibrate
from telco.contract.messages import IntentRequest, IntentResult, SlotRequest
from memory.embed import get_embedder
from telco.errors import InvalidInput
from telco.intents import load_intents
from telco.nlu import calibration as cal
from telco.scenarios.spec import load_scenarios


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # On a busy 2-core machine torch's two intra-op threads wait on each other: measured ~1 s per short text
    # with 2 threads against ~16 ms with 1 while other work ran. Restored afterwards for the rest of the session.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def agent() -> IntentAgent:
    a = IntentAgent(get_embedder())
    asyncio.run(a.warm_up())
    return a


def classify(agent: IntentAgent, text: str) -> IntentResult:
    return asyncio.run(agent.classify(IntentRequest(text=text)))


def test_scenario_opening_messages(agent):
    scenarios = load_scenarios()
    assert len(scenarios) >= 40
    results = [(s, classify(agent, s.message)) for s in scenarios]
    correct = np.array([r.intents[0].intent == s.intents[0] for s, r in results])
    conf = np.array([r.intents[0].confidence for _, r in results])
    for (s, r), ok in zip(results, correct):
        got = ", ".join(f"{i.intent} {i.confidence:.2f}" for i in r.intents)
        print(f"{'ok ' if ok else 'BAD'} {s.id:40s} want {'+'.join(s.intents):32s} got {got}")
    accuracy = correct.mean()
    lists = np.mean([[i.intent for i in r.intents] == s.intents for s, r in results])
    print(f"top-1 accuracy {accuracy:.3f} over {len(results)} scenario messages; exact intent lists {lists:.3f}; "
          f"ECE {cal.expected_calibration_error(conf, correct):.3f}")
    assert accuracy >= 0.85
    assert agent.calibration_source == "file"


def test_two_intents_in_the_source_scenario(agent):
    (s,) = [s for s in load_scenarios() if s.id == "slow-bb-and-upgrade-question"]
    result = classify(agent, s.message)
    assert [i.intent for i in result.intents] == ["broadband_slow", "plan_upgrade"]
    assert all(i.confidence >= agent.calibration.multi_intent_threshold for i in result.intents)
    assert "upgrade" in result.intents[1].span and "slow" in result.intents[0].span


@pytest.mark.parametrize("text, intents", [
    ("my internet is slow and can I upgrade", ["broadband_slow", "plan_upgrade"]),
    ("Texts with photos keep failing. Also, I'd like to cancel my mobile line.", ["mms", "cancel_service"]),
    ("My broadband keeps cutting out. Is there an outage in my area?", ["broadband_drops", "outage_check"]),
    # context, not further intents
    ("Mobile data has stopped working on my phone. Calls work fine.", ["mobile_data"]),
    ("My broadband keeps disconnecting. I've restarted the router. It's fibre.", ["broadband_drops"]),
    ("Why is my home internet so slow? Speed tests show a fraction of my plan.", ["broadband_slow"]),
])
def test_multi_intent(agent, text, intents):
    assert [i.intent for i in classify(agent, text).intents] == intents


def test_unrelated_messages_get_low_confidence(agent):
    for text in ("Can you recommend a good pasta recipe?", "What year did the Berlin wall fall?", "hmm"):
        result = classify(agent, text)
        assert result.intents[0].confidence < 0.5, (text, result.intents)


def test_unsure_messages_offer_alternatives(agent):
    result = classify(agent, "something is wrong with my service")
    assert result.intents[0].confidence < 0.8
    assert result.alternatives, "an unsure reading should come with runner-ups for a clarifying question"
    assert result.intents[0].intent not in {a.intent for a in result.alternatives}
    assert [a.confidence for a in result.alternatives] == sorted((a.confidence for a in result.alternatives),
                                                                 reverse=True)


def test_result_carries_entities_and_signals(agent):
    result = classify(agent, "I've been charged $35.00 twice on C1005 and I'm fed up, I'll go to the ombudsman!")
    assert result.intents[0].intent == "billing_dispute"
    assert result.entities.amounts == ["35.00"] and result.entities.customer_ids == ["C1005"]
    assert result.signals.complaint and result.signals.frustration > 0.3
    assert result.mode == "offline"


def test_bad_requests(agent):
    # Only spaces is a valid message that asks nothing (the planner then asks what they need), not an error.
    assert classify(agent, "   ").intents == []
    with pytest.raises(ValueError):
        IntentRequest(text=None)


def test_stored_calibration_is_what_a_refit_gives(agent, tmp_path):
    """`python -m actors.agents.intent_eval --calibrate` rewrites telco/data/intent_calibration.yaml; the stored constants
    must be the ones the current examples and dev messages produce (a stale file fails here)."""
    refit = asyncio.run(calibrate(tmp_path / "calibration.yaml", agent))
    stored = load_calibration(CALIBRATION_FILE)
    assert yaml.safe_load((tmp_path / "calibration.yaml").read_text())["method"] == refit.method
    assert (refit.method, refit.k, refit.examples_digest) == (stored.method, stored.k, stored.examples_digest)
    assert refit.temperature == pytest.approx(stored.temperature, rel=1e-3)
    assert refit.none_score == pytest.approx(stored.none_score, abs=1e-3)
    assert refit.multi_intent_threshold == stored.multi_intent_threshold
    m = refit.metrics
    print("calibration:", {k: m[k] for k in ("loo_accuracy", "loo_ece", "dev_accuracy", "dev_ece",
                                            "loo_mean_conf_correct", "loo_mean_conf_incorrect",
                                            "out_of_scope_mean_conf")})
    # Sanity of the fitted confidences: right answers are surer than wrong ones, off-topic text is unsure,
    # and stated confidence tracks accuracy (expected calibration error).
    assert m["loo_mean_conf_correct"] > m["loo_mean_conf_incorrect"]
    assert m["out_of_scope_mean_conf"] < 0.3
    assert m["loo_ece"] < 0.1 and m["dev_ece"] < 0.1
    # Every candidate scorer was measured, and the one kept has the lowest dev log loss.
    assert set(refit.compared) >= {"centroid", "knn@3"}
    kept = refit.method if refit.method == "centroid" else f"{refit.method}@{refit.k}"
    assert refit.compared[kept]["dev_log_loss"] == min(c["dev_log_loss"] for c in refit.compared.values())


class CountingEmbedder:
    """Wraps the real model and records every call, sync or async."""

    def __init__(self, inner, asynchronous: bool = False):
        self.inner = inner
        self.calls: list[list[str]] = []
        if asynchronous:
            self.embed = self._embed_async

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed(texts)

    async def _embed_async(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed(texts).tolist()  # a Serve handle would hand back plain lists


def test_one_embedding_call_per_message_and_examples_embedded_once(agent):
    counting = CountingEmbedder(get_embedder())
    a = IntentAgent(counting)
    asyncio.run(a.warm_up())
    first = len(counting.calls)
    text = "My home internet has been really slow all week. Also, can I upgrade to something faster?"
    classify(a, text)
    assert counting.calls[first:] == [[text, "My home internet has been really slow all week",
                                       "can I upgrade to something faster"]]
    b = IntentAgent(counting)  # a second agent in the process reuses the example vectors
    asyncio.run(b.warm_up())
    assert len(counting.calls) == first + 2
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        classify(a, "My phone says no service since this morning")
        times.append((time.perf_counter() - t0) * 1000)
    print(f"classify after warm-up: p50 {np.median(times):.1f} ms over {len(times)} calls")


def test_async_embedder_gives_the_same_answer(agent):
    a = IntentAgent(CountingEmbedder(get_embedder(), asynchronous=True))
    text = "I can't send picture messages and I want to speak to a person"
    assert classify(a, text).model_dump() == classify(agent, text).model_dump()


def test_injected_examples_are_used_and_calibration_refitted():
    examples = [(i, t) for i, t in catalogue_examples() if i in {"mms", "billing_dispute", "human_agent"}]
    a = IntentAgent(get_embedder(), examples)
    result = classify(a, "My picture messages won't send")
    assert a.calibration_source == "refit"
    assert a.calibration.examples_digest != load_calibration().examples_digest
    assert result.intents[0].intent == "mms"
    assert {s.intent for s in [*result.intents, *result.alternatives]} <= {"mms", "billing_dispute", "human_agent"}


@pytest.mark.parametrize("examples, message", [
    ([], "at least one example"),
    ([("no_such_intent", "hello")], "unknown intent 'no_such_intent'"),
    ([("mms", "   ")], "has no text"),
    ([("mms",)], "(intent, text) pair"),
    (["mms: photos fail"], "(intent, text) pair"),
])
def test_bad_examples_are_refused(examples, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        IntentAgent(get_embedder(), examples)


def test_read_slot_through_the_agent(agent):
    result = asyncio.run(agent.read_slot(SlotRequest(text="It's Maya Lindqvist", slot="full_name", kind="name")))
    assert result.ok and result.value == "Maya Lindqvist" and result.slot == "full_name"
    result = asyncio.run(agent.read_slot(SlotRequest(text="the 14th of March 1987", slot="date_of_birth",
                                                     kind="date")))
    assert result.value == "1987-03-14"


def test_every_intent_has_examples_and_dev_messages_cover_every_intent():
    dev = yaml.safe_load((CALIBRATION_FILE.parent / "intent_dev.yaml").read_text())["messages"]
    covered = {i for d in dev for i in d["intents"]}
    assert covered == set(load_intents())
    scenario_messages = {s.message.strip() for s in load_scenarios()}
    assert not scenario_messages & {d["text"] for d in dev}, "dev messages must not be scenario messages"
    assert not scenario_messages & {t for _, t in catalogue_examples()}, "examples must not be scenario messages"


def test_a_calibration_without_the_multi_intent_threshold_is_refused(tmp_path):
    # The stored file is the threshold's one definition: no default stands in for a missing one.
    raw = yaml.safe_load(CALIBRATION_FILE.read_text())
    del raw["multi_intent_threshold"]
    (tmp_path / "calibration.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match="multi_intent_threshold"):
        load_calibration(tmp_path / "calibration.yaml")
