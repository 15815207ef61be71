"""Dialogue agent (offline): turns what a turn must convey (ReplyParts) into one short reply.

All wording lives in telco/data/templates.yaml. This file decides which pieces a turn needs, their order, which
one question the customer is left with, and what to shed when the reply would run long. No randomness and no
clock: the same parts always give the same text.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from telco.contract.messages import Citation, EscalationDecision, KnowledgeAnswer, Reply, ReplyParts
from telco.data import TEMPLATES_FILE
from telco.errors import InvalidInput

Queue = EscalationDecision.model_fields["queue"].annotation
Sheddable = Literal["knowledge", "acknowledge_mood", "acknowledge", "closing"]


# ---- the templates file -----------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntentWords(_Strict):
    label: str = Field(min_length=1)
    acknowledge: str = Field(min_length=1)


class AcknowledgeTemplates(_Strict):
    default: str
    urgent: str
    frustrated: str
    urgent_frustrated: str


class ClarifyTemplates(_Strict):
    one: str
    many: str


class RequestTemplates(_Strict):
    customer_step: str
    ask: str


class KnowledgeTemplates(_Strict):
    quote: str
    not_found: str


class HandoffTemplates(_Strict):
    teams: dict[Queue, str]
    passing: str
    why: dict[str, str]
    default_why: str
    no_repeat: str
    announced_by: list[str]
    announced: str
    already_rules: list[str]
    already: str


class Templates(_Strict):
    max_words: int = Field(ge=20)
    shed_order: list[Sheddable]
    frustrated_at: float = Field(gt=0, le=1)
    intents: dict[str, IntentWords]
    acknowledge: AcknowledgeTemplates
    clarify: ClarifyTemplates
    request: RequestTemplates
    reask: str
    knowledge: KnowledgeTemplates
    handoff: HandoffTemplates
    closing: str
    fallback: str


# The placeholders each template may use; every other template is plain text.
PLACEHOLDERS: dict[str, set[str]] = {
    "clarify.one": {"options"},
    "clarify.many": {"options"},
    "request.customer_step": {"text"},
    "request.ask": {"text"},
    "reask": {"problem"},
    "knowledge.quote": {"text", "n"},
    "handoff.passing": {"team", "why"},
    "handoff.announced": {"team", "Team"},
    "handoff.already": {"team", "Team"},
}


def _check_placeholders(node: Any, path: str, source: Path) -> None:
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            _check_placeholders(getattr(node, name), f"{path}.{name}" if path else name, source)
    elif isinstance(node, dict):
        for key, value in node.items():
            _check_placeholders(value, f"{path}.{key}", source)
    elif isinstance(node, str):
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(node) if name is not None}
        except ValueError as exc:
            raise InvalidInput(f"{source}: template {path} has unbalanced braces: {exc}") from exc
        allowed = PLACEHOLDERS.get(path, set())
        if used - allowed:
            raise InvalidInput(f"{source}: template {path} uses {sorted(used - allowed)}; "
                               f"it may use {sorted(allowed) or 'no placeholders'}")


def load_templates(path: Path | str | None = None, *, intents: set[str] | None = None) -> Templates:
    """The reply templates, validated: structure, placeholders, every queue has a team, and (when `intents` is
    given) every intent has a label and an acknowledgement."""
    source = Path(path) if path is not None else TEMPLATES_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{source}: cannot read the reply templates: {exc}") from exc
    try:
        templates = Templates.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"{source}: bad reply templates: {problems}") from exc
    _check_placeholders(templates, "", source)
    missing_teams = set(get_args(Queue)) - set(templates.handoff.teams)
    if missing_teams:
        raise InvalidInput(f"{source}: handoff.teams has no wording for queues {sorted(missing_teams)}")
    if intents is not None and intents - set(templates.intents):
        raise InvalidInput(f"{source}: no label/acknowledgement for intents {sorted(intents - set(templates.intents))}")
    return templates


# ---- composing one reply ----------------------------------------------------------------------------------
def _sentence(text: str) -> str:
    """Trimmed, with closing punctuation, so pieces join into readable prose."""
    text = " ".join(text.split())
    return text if not text or text[-1] in ".!?:" else text + "."


def _words(text: str) -> int:
    return len(text.split())


def _join_options(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


@dataclass
class _Draft:
    """The pieces of one reply in reading order; optional pieces can be shed to fit the word limit."""

    reask: str | None = None
    acknowledge: str | None = None
    acknowledge_mood: str | None = None
    clarify: str | None = None
    messages: list[str] = field(default_factory=list)
    quotes: list[tuple[str, Citation]] = field(default_factory=list)
    note: str | None = None
    not_found: str | None = None
    handoff: list[str] = field(default_factory=list)
    request: str | None = None
    closing: str | None = None

    def shed(self, kind: str) -> bool:
        if kind == "knowledge":
            if not self.quotes:
                return False
            self.quotes.pop()  # quotes come best section first, so the last is from the least relevant one
            if not self.quotes:
                self.note = None
            return True
        if getattr(self, kind) is None:
            return False
        setattr(self, kind, None)
        return True

    def render(self, quote_template: str) -> tuple[str, list[Citation]]:
        # Markers are numbered by first appearance, so the kept citations are always [1]..[n] with no gaps.
        cited: list[Citation] = []
        quotes: list[str] = []
        for text, citation in self.quotes:
            if citation not in cited:
                cited.append(citation)
            quotes.append(quote_template.format(text=text, n=cited.index(citation) + 1))
        pieces = [self.reask, self.acknowledge, self.acknowledge_mood, self.clarify, *self.messages, *quotes,
                  self.note if quotes else None, self.not_found, *self.handoff, self.request, self.closing]
        return " ".join(p for p in pieces if p), cited


class DialogueAgent:
    """Stateless: reads its templates once; compose() is a pure function of the parts."""

    def __init__(self, templates_path: Path | str | None = None, *, intents: set[str] | None = None) -> None:
        if intents is None:
            from telco.intents import load_intents

            intents = set(load_intents())
        self.templates = load_templates(templates_path, intents=intents)

    async def compose(self, parts: ReplyParts) -> Reply:
        if not isinstance(parts, ReplyParts):
            try:
                parts = ReplyParts.model_validate(parts)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise InvalidInput(f"bad reply parts: {first['loc']}: {first['msg']}") from exc
        draft = self._draft(parts)
        t = self.templates
        text, cited = draft.render(t.knowledge.quote)
        while _words(text) > t.max_words:
            if not any(draft.shed(kind) for kind in t.shed_order):
                break  # only essential pieces left: a long playbook message is still said in full
            text, cited = draft.render(t.knowledge.quote)
        return Reply(text=text or t.fallback, citations=cited)

    # ---- deciding the pieces ----------------------------------------------------------------------------
    def _draft(self, parts: ReplyParts) -> _Draft:
        t = self.templates
        d = _Draft()
        # A decision not to escalate has nothing to tell the customer.
        handoff = parts.handoff if parts.handoff is not None and parts.handoff.escalate else None
        if parts.reask:
            d.reask = _sentence(t.reask.format(problem=parts.reask.strip()))
        # One question at a time: a handoff ends the exchange, and a clarifying question replaces the next step.
        clarifying = bool(parts.clarify) and handoff is None
        if parts.acknowledge:
            # While we still ask what the issue is, acknowledging a guessed intent would presume the answer.
            if parts.intent is not None and not clarifying:
                d.acknowledge = self._intent(parts.intent).acknowledge
            else:
                d.acknowledge = t.acknowledge.default
            d.acknowledge_mood = self._mood(parts)
        if clarifying:
            d.clarify = self._clarify(parts)
        d.messages = [_sentence(m) for m in parts.messages if m.strip()]
        if parts.knowledge is not None:
            says_something = any([d.reask, d.clarify, d.messages, handoff, parts.request])
            self._knowledge(d, parts.knowledge, alone=not says_something)
        if handoff is not None:
            d.handoff = self._handoff(handoff, parts.informed)
        elif parts.request is not None and not clarifying:
            kind = parts.request.kind
            template = t.request.customer_step if kind == "customer_step" else t.request.ask
            d.request = _sentence(template.format(text=parts.request.text.strip()))
        if parts.closing and handoff is None:
            d.closing = t.closing
        return d

    def _intent(self, intent: str) -> IntentWords:
        words = self.templates.intents.get(intent)
        if words is None:
            known = ", ".join(sorted(self.templates.intents))
            raise InvalidInput(f"no reply templates for intent {intent!r}; known: {known}")
        return words

    def _mood(self, parts: ReplyParts) -> str | None:
        a = self.templates.acknowledge
        frustrated = parts.signals.frustration >= self.templates.frustrated_at
        if parts.signals.urgency and frustrated:
            return a.urgent_frustrated
        if parts.signals.urgency:
            return a.urgent
        if frustrated:
            return a.frustrated
        return None

    def _clarify(self, parts: ReplyParts) -> str:
        intents: list[str] = []
        for score in parts.clarify:
            if score.intent not in intents:
                intents.append(score.intent)
        labels = [self._intent(i).label for i in intents]
        template = self.templates.clarify.one if len(labels) == 1 else self.templates.clarify.many
        return template.format(options=_join_options(labels))

    def _knowledge(self, d: _Draft, answer: KnowledgeAnswer, *, alone: bool) -> None:
        if not answer.confident:
            if alone:
                d.not_found = self.templates.knowledge.not_found
            return
        if answer.quotes:
            for quote in answer.quotes:
                if quote.citation >= len(answer.citations):
                    raise InvalidInput(f"knowledge quote cites [{quote.citation + 1}] but the answer has only "
                                       f"{len(answer.citations)} citations")
                d.quotes.append((_sentence(quote.text), answer.citations[quote.citation]))
            d.note = _sentence(answer.note) if answer.note else None
        elif answer.answer.strip() and answer.citations:
            # An answer without per-sentence quotes is cited as a whole by its first source.
            d.quotes.append((_sentence(answer.answer), answer.citations[0]))

    def _handoff(self, decision: EscalationDecision, informed: list[str]) -> list[str]:
        h = self.templates.handoff
        team = h.teams[decision.queue]
        names = {"team": team, "Team": team[:1].upper() + team[1:]}
        if decision.rule in h.already_rules:
            return [h.already.format(**names)]
        if set(informed) & set(h.announced_by):
            return [h.announced.format(**names)]
        why = h.why.get(decision.rule or "", h.default_why)
        return [_sentence(h.passing.format(team=team, why=why)), h.no_repeat]
