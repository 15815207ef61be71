"""Dialogue agent (actors/agents/dialogue.py + telco/data/templates.yaml): what each kind of turn says, one step at a
time, short enough for every real playbook message and customer step, and the same text for the same parts."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import yaml

from actors.agents.dialogue import TEMPLATES_FILE, DialogueAgent, load_templates
from actors.agents.escalation import load_rules
from telco.contract.messages import (
    Citation, EscalationDecision, IntentScore, KnowledgeAnswer, Quote, Reply, ReplyParts, Signals,
)
from telco.errors import InvalidInput
from telco.intents import load_intents
from telco.knowledge import load_documents
from telco.playbooks import flow_notices, load_playbooks, playbook_for_intent
from telco.playbooks.runner import CustomerRequest
from telco.sandbox.customer_steps import get_customer_step, list_customer_steps

T = load_templates()


@pytest.fixture(scope="module")
def agent() -> DialogueAgent:
    return DialogueAgent()


def say(agent: DialogueAgent, **parts) -> Reply:
    return asyncio.run(agent.compose(ReplyParts(**parts)))


def words(text: str) -> int:
    return len(text.split())


def step(step_id: str) -> CustomerRequest:
    return CustomerRequest(kind="customer_step", id=step_id, text=get_customer_step(step_id).instruction,
                           step_id=f"pb_{step_id}")


def ask(slot: str, question: str, expect: str = "text") -> CustomerRequest:
    return CustomerRequest(kind="ask", id=slot, text=question, step_id=f"ask_{slot}", expect=expect)


def kb_citation(section_id: str, score: float = 0.5, **extra) -> Citation:
    doc_id = section_id.split("#")[0]
    doc = next(d for d in load_documents() if d.id == doc_id)
    sec = doc.section(section_id.split("#")[1])
    return Citation(doc_id=doc.id, section_id=sec.id, title=doc.title, heading=sec.heading, score=score, **extra)


def kb_sentences(section_id: str) -> list[str]:
    doc_id, slug = section_id.split("#")
    text = " ".join(next(d for d in load_documents() if d.id == doc_id).section(slug).text.split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)


HEAT = "broadband-keeps-dropping#a-router-that-overheats-reboots-itself"
RESTART = "broadband-keeps-dropping#why-restarting-does-not-cure-overheating"


def knowledge(confident: bool = True, note: str | None = None) -> KnowledgeAnswer:
    heat, restart = kb_sentences(HEAT), kb_sentences(RESTART)
    quotes = [Quote(text=heat[1], citation=0), Quote(text=restart[1], citation=1), Quote(text=restart[2], citation=1)]
    return KnowledgeAnswer(answer=" ".join(q.text for q in quotes), confident=confident, note=note,
                           citations=[kb_citation(HEAT), kb_citation(RESTART)], quotes=quotes)


# ---- acknowledging the situation --------------------------------------------------------------------------
@pytest.mark.parametrize("intent", sorted(load_intents()))
def test_first_turn_acknowledges_each_intent_in_its_own_words(agent, intent):
    reply = say(agent, intent=intent, acknowledge=True).text
    assert reply.startswith(T.intents[intent].acknowledge)
    assert intent not in reply  # ids never reach the customer


def test_acknowledgement_only_on_the_first_turn(agent):
    reply = say(agent, intent="broadband_drops", messages=["Your router is overheating."]).text
    assert T.intents["broadband_drops"].acknowledge not in reply


@pytest.mark.parametrize("signals,mood", [
    (Signals(urgency=True), "urgent"),
    (Signals(frustration=0.5), "frustrated"),
    (Signals(frustration=0.9, urgency=True), "urgent_frustrated"),
    (Signals(frustration=0.49), None),
    (Signals(wants_person=True), None),
])
def test_mood_variants(agent, signals, mood):
    reply = say(agent, intent="broadband_drops", acknowledge=True, signals=signals).text
    moods = T.acknowledge.model_dump(exclude={"default"})
    present = [name for name, text in moods.items() if text in reply]
    assert present == ([mood] if mood else [])


def test_moods_need_an_acknowledgement_turn(agent):
    reply = say(agent, intent="mms", signals=Signals(urgency=True, frustration=0.9), request=step("send_test_mms"))
    assert T.acknowledge.urgent_frustrated not in reply.text


def test_unknown_situation_gets_the_default_acknowledgement(agent):
    assert say(agent, acknowledge=True).text == T.acknowledge.default


# ---- clarifying -------------------------------------------------------------------------------------------
def test_clarifying_lists_candidates_in_plain_words(agent):
    reply = say(agent, acknowledge=True, intent="broadband_slow", clarify=[
        IntentScore(intent="broadband_slow", confidence=0.55), IntentScore(intent="broadband_drops", confidence=0.5),
        IntentScore(intent="plan_upgrade", confidence=0.41)]).text
    labels = [T.intents[i].label for i in ("broadband_slow", "broadband_drops", "plan_upgrade")]
    assert f"{labels[0]}, {labels[1]} or {labels[2]}?" in reply
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", reply), reply  # no intent ids
    # The intent is only a guess, so the acknowledgement does not presume it.
    assert T.intents["broadband_slow"].acknowledge not in reply and T.acknowledge.default in reply


def test_clarifying_one_candidate_and_duplicates(agent):
    reply = say(agent, clarify=[IntentScore(intent="mms", confidence=0.6), IntentScore(intent="mms", confidence=0.3)])
    assert reply.text == T.clarify.one.format(options=T.intents["mms"].label)


def test_clarifying_replaces_the_next_step(agent):
    reply = say(agent, clarify=[IntentScore(intent="mms", confidence=0.6), IntentScore(intent="mobile_data",
                                                                                        confidence=0.5)],
                request=step("send_test_mms")).text
    assert get_customer_step("send_test_mms").instruction not in reply
    assert reply.count("?") == 1


# ---- the playbook's messages and the one next step --------------------------------------------------------
def test_messages_are_said_in_order_and_the_next_step_last(agent):
    first = "Your router is overheating and restarting itself about every 30 minutes."
    second = "It needs air around it."
    reply = say(agent, messages=[first, second], request=step("move_router_to_ventilated_spot")).text
    instruction = get_customer_step("move_router_to_ventilated_spot").instruction
    assert reply == f"{first} {second} Next step: {instruction}"


@pytest.mark.parametrize("step_id", [s.id for s in list_customer_steps()])
def test_exactly_one_customer_step_is_presented(agent, step_id):
    reply = say(agent, intent="mobile_data", acknowledge=True, request=step(step_id)).text
    instructions = [s.instruction for s in list_customer_steps()]
    assert [i for i in instructions if i in reply] == [get_customer_step(step_id).instruction]
    assert reply.count("Next step:") == 1


def test_a_question_is_asked_as_written(agent):
    q = "What's the postcode of your new address?"
    assert say(agent, request=ask("new_postcode", q, "postcode")).text == q


def test_reask_says_why_and_repeats_the_question(agent):
    q = "Thanks. And the date of birth on the account (YYYY-MM-DD)?"
    problem = "2026-02-30 is not a date on the calendar; please check the day and month"
    reply = say(agent, reask=problem, request=ask("date_of_birth", q, "date")).text
    assert reply == f"Sorry, {problem}. {q}"


# ---- knowledge --------------------------------------------------------------------------------------------
def test_confident_knowledge_is_quoted_with_markers(agent):
    k = knowledge()
    reply = say(agent, knowledge=k)
    assert reply.text == (f"{k.quotes[0].text} [1] {k.quotes[1].text} [2] {k.quotes[2].text} [2]")
    assert [c.section_id for c in reply.citations] == [HEAT, RESTART]


def test_knowledge_note_follows_the_quotes(agent):
    note = "Note: this guidance dates from 2025-03-03 and may be out of date."
    reply = say(agent, knowledge=knowledge(note=note)).text
    assert reply.endswith("[2] " + note)


def test_weak_knowledge_is_not_quoted(agent):
    k = knowledge(confident=False)
    alone = say(agent, knowledge=k)
    assert alone.text == T.knowledge.not_found and alone.citations == []
    with_step = say(agent, knowledge=k, request=step("run_home_speed_test")).text
    assert T.knowledge.not_found not in with_step and k.quotes[0].text not in with_step


def test_long_turn_sheds_knowledge_before_anything_essential(agent):
    message = ("Your router is overheating and restarting itself about every 30 minutes, which is why restarting "
               "it didn't help. It needs air around it.")
    reply = say(agent, intent="broadband_drops", acknowledge=True, signals=Signals(urgency=True, frustration=0.8),
                messages=[message], knowledge=knowledge(), request=step("move_router_to_ventilated_spot"))
    assert words(reply.text) <= T.max_words
    assert message in reply.text and "Next step:" in reply.text
    # What stays of the knowledge is a prefix of the quotes, still numbered from [1].
    kept = len(reply.citations)
    assert kept < 2 and ("[1]" in reply.text) == (kept == 1)


# ---- handoff and closing ----------------------------------------------------------------------------------
def test_handoff_says_who_why_and_no_repeating(agent):
    reply = say(agent, handoff=EscalationDecision(escalate=True, rule="repeated_failed_fix", queue="technical",
                                                  reason="the same fix was tried 2 times without effect"),
                request=step("restart_router")).text
    assert T.handoff.teams["technical"] in reply
    assert T.handoff.why["repeated_failed_fix"] in reply
    assert T.handoff.no_repeat in reply
    assert "Next step" not in reply  # nothing more to do once a person takes over
    assert "tried 2 times" not in reply  # the staff reason is not read to the customer


def test_handoff_for_a_rule_without_its_own_words(agent):
    reply = say(agent, handoff=EscalationDecision(escalate=True, rule="something_new", queue="retention")).text
    assert T.handoff.teams["retention"] in reply and T.handoff.default_why in reply


def test_handoff_already_announced_by_the_playbook_is_not_repeated(agent):
    message = "That's more than I can approve myself. I'm passing your request to a colleague who can."
    reply = say(agent, messages=[message], informed=["credit_needs_approval"],
                handoff=EscalationDecision(escalate=True, rule="playbook_handoff", queue="billing")).text
    assert reply == f"{message} " + T.handoff.announced.format(
        Team=T.handoff.teams["billing"][0].upper() + T.handoff.teams["billing"][1:], team="")


def test_later_turns_after_a_handoff(agent):
    reply = say(agent, handoff=EscalationDecision(escalate=True, rule="already_with_person", queue="complaints"))
    assert reply.text == T.handoff.already.format(team=T.handoff.teams["complaints"], Team="")


def test_a_decision_not_to_escalate_is_not_announced(agent):
    reply = say(agent, handoff=EscalationDecision(escalate=False, rule="playbook_handoff"), request=step("reseat_sim"))
    assert reply.text.startswith("Next step:")


def test_closing_when_resolved_but_not_when_handed_over(agent):
    assert say(agent, messages=["Picture messages are going through now."], closing=True).text.endswith(T.closing)
    handed = say(agent, closing=True, handoff=EscalationDecision(escalate=True, rule="complaint", queue="complaints"))
    assert T.closing not in handed.text


def test_nothing_to_say_falls_back_to_an_open_question(agent):
    assert say(agent).text == T.fallback


# ---- length, determinism, catalogue -----------------------------------------------------------------------
def _filled(template: str) -> str:
    # Playbook placeholders become a realistic three-word value ("{vars.area.outages.0.cause}" -> a cause).
    return re.sub(r"\{[^}]+\}", "fibre cut nearby", template)


def _worst_case_turns():
    """Every playbook message, as the first turn of its issue with every mood, the longest next step or question
    of that playbook, a three-sentence knowledge answer, and a handoff when the playbook can end escalated."""
    books = load_playbooks()
    for intent in sorted(load_intents()):
        book = playbook_for_intent(intent, books)
        if book is None:
            continue
        requests = [step(s.customer_step) for s in book.steps if s.customer_step]
        requests += [ask(s.ask, _filled(s.question)) for s in book.steps if s.ask]
        longest = max(requests, key=lambda r: words(r.text), default=None)
        for s in book.steps:
            if not s.message:
                continue
            yield f"{book.id}.{s.id}", dict(intent=intent, acknowledge=True,
                                            signals=Signals(urgency=True, frustration=0.9),
                                            messages=[_filled(s.message)], request=longest, knowledge=knowledge())
            if any(x.end == "escalated" for x in book.steps):
                yield f"{book.id}.{s.id}+handoff", dict(
                    intent=intent, acknowledge=True, signals=Signals(urgency=True, frustration=0.9),
                    messages=[_filled(s.message)], knowledge=knowledge(),
                    handoff=EscalationDecision(escalate=True, rule="playbook_handoff", queue="technical"))


WORST = list(_worst_case_turns())


@pytest.mark.parametrize("case,parts", WORST, ids=[c for c, _ in WORST])
def test_no_reply_runs_long(agent, case, parts):
    reply = say(agent, **parts).text
    assert words(reply) <= T.max_words, f"{case}: {words(reply)} words: {reply}"
    assert _filled(parts["messages"][0]).strip() in reply  # the essential message survived the trimming


def test_same_parts_same_text(agent):
    parts = dict(intent="mms", acknowledge=True, signals=Signals(frustration=0.6), knowledge=knowledge(),
                 messages=["Picture messages need mobile data."], request=step("turn_on_mobile_data"))
    assert say(agent, **parts) == say(agent, **parts) == say(DialogueAgent(), **parts)


def test_templates_cover_every_intent_and_escalation_rule():
    assert set(T.intents) == set(load_intents())
    escalating = {r.spec.id for r in load_rules() if r.spec.escalate}
    assert escalating <= set(T.handoff.why), escalating - set(T.handoff.why)


def test_announcing_notices_are_real_playbook_notices():
    notices = flow_notices()
    assert set(T.handoff.announced_by) <= notices, set(T.handoff.announced_by) - notices


# ---- bad templates and bad parts --------------------------------------------------------------------------
def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(TEMPLATES_FILE.read_text())
    mutate(raw)
    path = tmp_path / "templates.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r["intents"].pop("mms"), r"intents \['mms'\]"),
    (lambda r: r["request"].update(customer_step="Do this: {step}"), r"request.customer_step uses \['step'\]"),
    (lambda r: r.update(closing="All done {"), "unbalanced braces"),
    (lambda r: r["handoff"]["teams"].pop("complaints"), "complaints"),
    (lambda r: r.update(shed_order=["messages"]), "shed_order"),
    (lambda r: r.update(max_words=5), "max_words"),
])
def test_bad_templates_are_refused(tmp_path, mutate, message):
    with pytest.raises(InvalidInput, match=message):
        DialogueAgent(_write(tmp_path, mutate))


def test_unknown_intent_in_parts_is_a_clear_error(agent):
    with pytest.raises(InvalidInput, match="no reply templates for intent 'weather'"):
        say(agent, intent="weather", acknowledge=True)


def test_quote_pointing_past_the_citations_is_refused(agent):
    bad = KnowledgeAnswer(answer="x", confident=True, citations=[kb_citation(HEAT)],
                          quotes=[Quote(text="x", citation=3)])
    with pytest.raises(InvalidInput, match=r"cites \[4\]"):
        say(agent, knowledge=bad)
