"""Scrub payment card data, secrets, national id numbers and dates of birth from text and JSON-like values.

Two boundaries use it: memory writes (turns, episodes, facts: memory is durable and is read back into prompts and
offline jobs, so a card number that slips into a turn would be copied far beyond the conversation) and every model
request (telco/llm/client.py: nothing the customer typed that the model does not need leaves the system). It is
context-free; what depends on the conversation (the identifiers of customers other than the verified one) is
scrubbed by the planner (actors/planner/privacy.py), which knows whose conversation it is.

A date of birth is needed only while the identity checks run, by code (the identify flow reads it, never a model),
so anything shaped like one is scrubbed: a full date labelled as a birth date, or any full date at least
ADULT_YEARS in the past (appointments, moves and bills are recent or in the future).
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

CARD = "[REDACTED:card]"
CVV = "[REDACTED:cvv]"
SECRET = "[REDACTED:secret]"
NATIONAL_ID = "[REDACTED:national_id]"
DOB = "[REDACTED:dob]"

ADULT_YEARS = 12  # a full date at least this many years back is taken for a date of birth

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
# A PIN (or PUK) is only redacted when digits follow it, so "PIN-locked SIM" (a device state) stays readable; the
# label may name what it unlocks ("the PIN of my card is 4821", "PIN number for the SIM: 0000").
_PIN = re.compile(r"(?P<label>\b(?:pin|puk)(?:\s+(?:code|number|no\.?))?\b"
                  r"(?:\s+(?:of|for|on)\s+(?:my|the|your)\s+[a-z]+)?(?:\s+(?:is|was))?\s*[:=]?\s*)"
                  r"(?P<value>\d{4,8})\b", re.IGNORECASE)
# Credentials that identify themselves by shape, wherever they appear.
_TOKEN_SHAPES = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,})\b")
# National id numbers by shape: a US social security number (3-2-4 digits, grouped) and a UK national insurance
# number (two letters, six digits, a letter A-D); any other country's by its label.
_SSN = re.compile(r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE)
_ID_LABELLED = re.compile(
    r"(?P<label>\b(?:national\s+(?:id(?:entity)?|insurance|identification)|social\s+security|ssn|sin|"
    r"passport|id\s+card|identity\s+card|personal\s+id(?:entity)?|tax\s+id|dni|nie|bsn|personnummer)"
    r"(?:\s+(?:number|no\.?|#))?(?:\s+(?:is|was))?\s*[:=#]?\s*)"
    # the value: one token holding a digit, perhaps followed by groups of digits ("123 456 789")
    r"(?P<value>(?!\[REDACTED)(?=[A-Z0-9.-]*\d)[A-Z0-9][A-Z0-9.-]{2,24}(?:\s\d[\d.-]{1,8}){0,4})(?![A-Z0-9])",
    re.IGNORECASE,
)
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec")
# Full dates only (a year of four digits): ISO, day/month/year with / . or -, "14 March 1987", "March 14, 1987".
_FULL_DATE = re.compile(
    r"(?<![\d/.-])(?:(?P<y1>\d{4})[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?P<y2>\d{4}))(?![\d/.-]*\d)"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\.?,?\s+(?P<y3>\d{{4}})\b"
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?P<y4>\d{{4}})\b",
    re.IGNORECASE,
)
_BIRTH_LABEL = re.compile(r"\b(?:born|birth|dob|d\.o\.b\.?|birthday)\b", re.IGNORECASE)

# Values of these keys are secret whatever they look like (a tool's arguments, a form's fields).
SECRET_KEYS = {"password": SECRET, "passcode": SECRET, "pin": SECRET, "puk": SECRET, "cvv": CVV, "cvc": CVV,
               "card_number": CARD, "pan": CARD, "national_id": NATIONAL_ID, "ssn": NATIONAL_ID,
               "passport_number": NATIONAL_ID, "date_of_birth": DOB, "dob": DOB}


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


def _date_of_birth(text: str, match: re.Match[str]) -> str:
    year = int(next(y for y in match.group("y1", "y2", "y3", "y4") if y))
    labelled = _BIRTH_LABEL.search(text, max(0, match.start() - 40), match.start()) is not None
    return DOB if labelled or year <= date.today().year - ADULT_YEARS else match.group(0)


def redact_text(text: str) -> str:
    """The text with card numbers, CVVs, passwords/PINs, credential-shaped tokens, national id numbers and dates of
    birth replaced by markers."""
    if not text:
        return text
    out = _DIGIT_RUN.sub(_card, text)
    out = _CVV.sub(lambda m: m.group("label") + CVV, out)
    out = _SECRET.sub(lambda m: m.group("label") + SECRET, out)
    out = _PIN.sub(lambda m: m.group("label") + SECRET, out)
    out = _TOKEN_SHAPES.sub(SECRET, out)
    out = _ID_LABELLED.sub(lambda m: m.group("label") + NATIONAL_ID, out)
    out = _SSN.sub(NATIONAL_ID, out)
    out = _NINO.sub(NATIONAL_ID, out)
    return _FULL_DATE.sub(lambda m: _date_of_birth(out, m), out)


def _identifier(key: Any) -> bool:
    # System-made identifiers (conversation, customer, line ids...) are not customer text. A random id can
    # contain a digit run that passes the Luhn check; redacting it would silently point at another record.
    return isinstance(key, str) and (key == "id" or key.endswith("_id") or key.endswith("_ids"))


def redact(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, tuples); other values pass unchanged, and so do
    the values of identifier keys (`id`, `*_id`, `*_ids`). The value of a secret key (SECRET_KEYS: a password, a
    date of birth...) is replaced whole."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _field(k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def _field(key: Any, value: Any) -> Any:
    marker = SECRET_KEYS.get(key.lower()) if isinstance(key, str) else None
    # A date of birth is written, never a bare number: an int under that key is bookkeeping (the identify flow's
    # count of times it asked), and a state that kept a marker there would no longer load.
    written = (str,) if marker == DOB else (str, int)
    if marker is not None and isinstance(value, written) and not isinstance(value, bool) and value != "":
        return marker
    return value if _identifier(key) else redact(value)


def install_log_redaction() -> None:
    """Every log record this process makes from now on carries redacted text: its message with the arguments filled
    in, and the traceback of an exception (whose message may quote what a customer wrote). Installed once per
    process by whatever hosts the agents (the Serve deployments, the in-process client); calling again does
    nothing."""
    import logging

    current = logging.getLogRecordFactory()
    if getattr(current, "redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        try:
            record.msg, record.args = redact_text(record.getMessage()), ()
        except Exception:  # a record whose arguments do not fit its format string is logged as it came
            return record
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
