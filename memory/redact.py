"""Scrub payment card data and secrets from anything before it is written to memory.

Memory is durable and is read back into prompts and offline jobs, so a card number or password that slips into
a turn would be copied far beyond the conversation. Redaction runs at the write boundary (turns, episodes, facts),
not at display time.
"""
from __future__ import annotations

import re
from typing import Any

CARD = "[REDACTED:card]"
CVV = "[REDACTED:cvv]"
SECRET = "[REDACTED:secret]"

# A run of 13-19 digits, optionally grouped by single spaces or dashes, not glued to other digits.
_DIGIT_RUN = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
# A security code is only recognisable by the words around it; a bare 3-digit number is not a CVV.
_CVV = re.compile(
    r"(?P<label>\b(?:cvv2?|cvc2?|cid|csc|security\s+code|card\s+verification(?:\s+(?:code|value))?)\b"
    r"(?:\s+(?:is|was|=|:))?[\s:=#-]*)(?P<code>\d{3,4})\b",
    re.IGNORECASE,
)
# "password: x", "password is x", "api_key=x": the value is the next token. A separator is required so that
# ordinary sentences ("I forgot my password yesterday") keep their words.
_SECRET = re.compile(
    r"(?P<label>\b(?:password|passwd|pass\s*word|pwd|passcode|secret|api[_\s-]?key|"
    r"access[_\s-]?token|auth[_\s-]?token|token)\b\s*(?::|=|\bis\b|\bwas\b)\s*)"
    r"(?P<value>(?!\[REDACTED)[^\s,;]+)",
    re.IGNORECASE,
)
# A PIN is only redacted when digits follow it, so "PIN-locked SIM" (a device state) stays readable.
_PIN = re.compile(r"(?P<label>\bpin(?:\s+code)?\b(?:\s+(?:is|was))?\s*[:=]?\s*)(?P<value>\d{4,8})\b", re.IGNORECASE)
# Credentials that identify themselves by shape, wherever they appear.
_TOKEN_SHAPES = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,})\b")


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum that every issued card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    # Phone numbers, order ids and the like are long digit runs too; only Luhn-valid runs are treated as cards.
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return CARD
    return match.group(0)


def redact_text(text: str) -> str:
    """The text with card numbers, CVVs, passwords/PINs and credential-shaped tokens replaced by markers."""
    if not text:
        return text
    out = _DIGIT_RUN.sub(_card, text)
    out = _CVV.sub(lambda m: m.group("label") + CVV, out)
    out = _SECRET.sub(lambda m: m.group("label") + SECRET, out)
    out = _PIN.sub(lambda m: m.group("label") + SECRET, out)
    out = _TOKEN_SHAPES.sub(SECRET, out)
    return out


def _identifier(key: Any) -> bool:
    # System-made identifiers (conversation, customer, line ids...) are not customer text. A random id can
    # contain a digit run that passes the Luhn check; redacting it would silently point at another record.
    return isinstance(key, str) and (key == "id" or key.endswith("_id") or key.endswith("_ids"))


def redact(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, tuples); other values pass unchanged, and so do
    the values of identifier keys (`id`, `*_id`, `*_ids`)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: v if _identifier(k) else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value
