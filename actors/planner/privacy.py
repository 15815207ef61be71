"""Other customers' identifiers, scrubbed from what the customer wrote before a model reads it or the log keeps it.

Once a conversation is verified, it may touch only that customer's records (telco/policy.py), so an identifier of
anyone else in the customer's words (a neighbour's number, another account's id or line) is of no use to the
turn, and it would be copied into model requests and the turns log. Which identifiers are the customer's own is
read from the account (get_customer_details and get_bills, through the tool layer with the conversation's identity),
once per conversation and replica, and only when a message holds something shaped like an identifier.

Once verified, card numbers, secrets, national ids and dates of birth (telco/redact.py) go from the message too:
the identity checks that needed them are done. Before verification nothing is scrubbed here (the details the
customer gives are the ones being checked, by code); model requests and memory writes scrub them anyway.
"""
from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from actors.planner.conversation import ConversationState
from actors.runtime.oss_bss import RemoteToolPort
from telco.contract.http import MessageIn
from telco.errors import TelcoError
from telco.nlu.entities import phones_in
from telco.nlu.lexicon import load_lexicon
from telco.redact import redact_text

log = logging.getLogger(__name__)

OTHER_CUSTOMER = "[REDACTED:other_customer]"
# Record ids of the operator's systems: customers, lines, broadband services, bills, routers, devices, payments.
_RECORD_ID = re.compile(r"(?<![\w-])(?:[Cc]\d{4,9}|(?:L|BB|B|RT|PH|PM|LI|DSP|TKT|HND|CR)-\d{4,})(?![\w-])")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CACHED = 1024  # conversations whose own identifiers a replica keeps


@dataclass(frozen=True)
class Own:
    """The verified customer's own identifiers: record ids, phone numbers (E.164), e-mail addresses (lower case)."""

    ids: frozenset[str]
    phones: frozenset[str]
    emails: frozenset[str]


def looks_identifying(text: str) -> bool:
    return bool(_RECORD_ID.search(text) or _EMAIL.search(text) or phones_in(text, _numbering()))


def scrub_others(text: str, own: Own | None) -> str:
    """`own` None (the account could not be read): every identifier is blanked, the customer's own included."""
    own = own or Own(frozenset(), frozenset(), frozenset())
    spans = [(s, e) for number, s, e in phones_in(text, _numbering()) if number not in own.phones]
    spans += [(m.start(), m.end()) for m in _EMAIL.finditer(text) if m.group(0).lower() not in own.emails]
    spans += [(m.start(), m.end()) for m in _RECORD_ID.finditer(text) if m.group(0).upper() not in own.ids]
    out, at = [], 0
    for s, e in sorted(spans):
        if s < at:
            continue  # overlapping readings of the same characters
        out += [text[at:s], OTHER_CUSTOMER]
        at = e
    return "".join(out) + text[at:]


class Privacy:
    """Scrubs other customers' identifiers from a verified conversation's messages; keeps each conversation's own
    identifiers (a bounded cache: a replica serves many conversations)."""

    def __init__(self, oss_bss: Any) -> None:
        self.oss_bss = oss_bss
        self._own: OrderedDict[tuple[str, str], Own | None] = OrderedDict()

    async def text(self, state: ConversationState, text: str) -> str:
        if state.identity.verified_customer_id is None or not text:
            return text
        # Verified: a date of birth (or a card number, a password...) has no use left in this conversation.
        text = redact_text(text)
        return scrub_others(text, await self._lookup(state)) if looks_identifying(text) else text

    async def message(self, state: ConversationState, body: MessageIn) -> MessageIn:
        text = await self.text(state, body.text)
        return body if text == body.text else body.model_copy(update={"text": text})

    async def _lookup(self, state: ConversationState) -> Own | None:
        customer = state.identity.verified_customer_id or ""
        key = (state.conversation_id, customer)
        if key in self._own:
            self._own.move_to_end(key)
            return self._own[key]
        port = RemoteToolPort(self.oss_bss, state.conversation_id, state.identity)
        try:
            details = await port.call("get_customer_details", {"customer_id": customer})
            bills = await port.call("get_bills", {"customer_id": customer})
        except TelcoError:  # the account cannot be read now: blank every identifier rather than risk another's
            log.warning("own identifiers of %s not read; every identifier is scrubbed this turn", customer)
            return None
        own = own_identifiers(customer, details, bills)
        self._own[key] = own
        while len(self._own) > _CACHED:
            self._own.popitem(last=False)
        return own


def own_identifiers(customer_id: str, details: dict[str, Any], bills: dict[str, Any]) -> Own:
    ids, phones = {customer_id.upper()}, set()
    strings = _strings(details) + _strings(bills)
    ids.update(s.upper() for s in strings if _RECORD_ID.fullmatch(s))
    phones.update(n for s in strings for n, _, _ in phones_in(s) if s.startswith("+"))
    emails = {str(details.get("email", "")).lower()} - {""}
    return Own(frozenset(ids), frozenset(phones), frozenset(emails))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _numbering() -> Any:
    return load_lexicon().phone_numbering
