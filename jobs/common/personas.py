"""A simulated customer with a persona, talking to the system through a ScenarioClient (HTTP or in-process).

The scripted customer of telco.scenarios answers every question right the first time; people do not. A persona
changes how the same customer behaves: patient (as scripted), impatient (says so, and leaves after a few
messages), confused (the first question gets a puzzled reply), wrong_details_first (gives a wrong date of birth
first), two_things (asks a second, read-only question in the first message).
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from jobs.common.scenario_mix import Contact, load_traffic
from telco.sandbox.state import Sandbox
from telco.scenarios.agents_driver import MAX_TURNS, ScenarioClient, next_message, say, send_logged
from telco.scenarios.customer import ScriptedCustomer
from telco.scenarios.outcome import Outcome
from telco.scenarios.report import ScenarioResult, judge


class PersonaResult(ScenarioResult):
    persona: str
    abandoned: bool = False
    conversation_id: str | None = None


def run_contact(contact: Contact, client: ScenarioClient, rng: random.Random) -> PersonaResult:
    scenario = contact.scenario
    client.reset_world(scenario)
    before = client.world()
    outcome = Outcome(scenario_id=scenario.id)
    customer = ScriptedCustomer(scenario, Sandbox(before.model_copy(deep=True)))
    talk = _Talk(contact, client, customer, outcome, rng)
    try:
        talk.converse()
    except Exception as err:  # one failed request fails this contact, with the reason, not the whole run
        outcome.error = f"{type(err).__name__}: {err}"
    judged = judge(scenario, before, Sandbox(client.world()), outcome)
    return PersonaResult(**judged.model_dump(), persona=contact.persona, abandoned=talk.abandoned,
                         conversation_id=talk.conversation_id)


class _Talk:
    def __init__(self, contact: Contact, client: ScenarioClient, customer: ScriptedCustomer, outcome: Outcome,
                 rng: random.Random) -> None:
        self.contact, self.client, self.customer, self.outcome, self.rng = contact, client, customer, outcome, rng
        self.traffic = load_traffic()
        self.abandoned = False
        self.conversation_id: str | None = None
        self._puzzled = False
        self._lied = False

    def opening(self) -> str:
        text = self.contact.scenario.message
        if self.contact.persona == "impatient":
            text = f"{self.rng.choice(self.traffic.impatient_openers)} {text}"
        elif self.contact.persona == "two_things":
            text = f"{text} {self.rng.choice(self.traffic.second_asks)}"
        return text

    def answer(self, question: dict[str, Any]) -> str:
        persona = self.contact.persona
        if persona == "confused" and not self._puzzled:
            self._puzzled = True
            return self.rng.choice(self.traffic.confused_replies)
        value = self.customer.answer(question["slot"])
        if persona == "wrong_details_first" and question["slot"] == "date_of_birth" and not self._lied:
            self._lied = True
            value = (date.fromisoformat(str(value)) + timedelta(days=1 + self.rng.randrange(300))).isoformat()
        return say(question["kind"], value)

    def converse(self) -> None:
        scenario, client, outcome = self.contact.scenario, self.client, self.outcome
        self.conversation_id = client.start()
        body: dict[str, Any] = {"text": self.opening()}
        patience = self.traffic.impatient_patience if self.contact.persona == "impatient" else MAX_TURNS
        for n in range(MAX_TURNS):
            if n >= patience:
                self.abandoned = True
                return
            turn = send_logged(client, self.conversation_id, body, outcome)
            body = next_message(turn, scenario, self.customer, client, outcome, self.answer)
            if body is None:
                return
