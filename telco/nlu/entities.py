"""Entities in a customer message: phone numbers, customer ids, money, data amounts, dates, postcodes, plans, names.

Each reader keeps to what it can read without doubt; anything unclear is left out rather than guessed, because
a wrong account number or amount does more harm than asking.
"""
from __future__ import annotations

import re

from telco.contract.messages import Entities
from telco.models.common import normalise_phone
from telco.nlu.dates import iso_dates
from telco.nlu.lexicon import Lexicon, PhoneNumbering
from telco.nlu.names import names_in
from telco.nlu.numbers import Quantity, money_string, quantities
from telco.nlu.plans import PlanCatalogue

# International numbers (E.164 needs the country code): "+1 555 010 0001", "0044 20 7946 0000".
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)\d[\d\s\-().]{6,22}\d(?!\w)")
# A run of digits grouped as people write a number at home: "555 010 1001", "(555) 010-1001", "1-555-010-1001".
# It is a phone number only when its digit count fits the numbering plan (lexicon phone_numbering).
_NATIONAL = re.compile(r"(?<![\w+\-./])\(?\d[\d\s\-().]{4,20}\d(?![\w\-/]|\.\d)")
_CUSTOMER_ID = re.compile(r"(?<![\w-])[Cc]\d{4,7}(?![\w-])")
# Outward code (area letters, district digits) and inward code (digit, two letters): "NG1 7QP", "hv7 2ab".
POSTCODE = re.compile(r"(?<![\w-])([A-Za-z]{1,2}\d{1,2}[A-Za-z]?)\s*(\d[A-Za-z]{2})(?![\w-])")


def phones_in(text: str, numbering: PhoneNumbering | None = None) -> list[tuple[str, int, int]]:
    """Phone numbers with their spans, in E.164: international ones, and with `numbering` also the ones written
    without the country code."""
    out = []
    for m in _PHONE.finditer(text):
        raw = m.group(0)
        candidate = "+" + raw[2:] if raw.startswith("00") else raw
        try:
            out.append((normalise_phone(candidate), m.start(), m.end()))
        except ValueError:
            continue  # too short or too long for E.164: not a phone number we can use
    if numbering is not None:
        for m in _NATIONAL.finditer(text):
            if any(m.start() < e and s < m.end() for _, s, e in out):
                continue
            number = national_number(m.group(0), numbering)
            if number is not None:
                out.append((number, m.start(), m.end()))
        out.sort(key=lambda hit: hit[1])
    return out


def national_number(raw: str, numbering: PhoneNumbering) -> str | None:
    """A number written without its country code, in E.164; None unless the digits make a whole number (a
    shorter run is part of a number and is never completed by guessing)."""
    digits = re.sub(r"\D", "", raw)
    code, size = numbering.country_code, numbering.national_digits
    if len(digits) == size + len(code) and digits.startswith(code):
        digits = digits[len(code):]  # the country code written as a trunk prefix: "1 555 010 1001"
    if len(digits) != size:
        return None
    try:
        return normalise_phone(f"+{code}{digits}")
    except ValueError:
        return None


def customer_ids_in(text: str) -> list[str]:
    return [m.group(0).upper() for m in _CUSTOMER_ID.finditer(text)]


def postcodes_in(text: str) -> list[str]:
    out: list[str] = []
    for m in POSTCODE.finditer(text):
        code = f"{m.group(1).upper()} {m.group(2).upper()}"
        if code not in out:
            out.append(code)
    return out


def _outside(q: Quantity, spans: list[tuple[int, int]]) -> bool:
    return not any(q.start < e and s < q.end for s, e in spans)


def extract_entities(text: str, lex: Lexicon, plans: PlanCatalogue) -> Entities:
    phones = phones_in(text, lex.phone_numbering)
    plan_hits = plans.find(text)
    # Digits that belong to a phone number or a plan name ("Plus 5G 40 GB") are not amounts of anything.
    masked = [(s, e) for _, s, e in phones] + [(s, e) for _, s, e in plan_hits]
    amounts: list[str] = []
    gigabytes: list[float] = []
    for q in quantities(text, lex):
        if not _outside(q, masked):
            continue
        if q.unit == "money" or (q.unit is None and q.decimals == 2 and not q.spelled):
            value = money_string(q.value)
            if q.value > 0 and value not in amounts:
                amounts.append(value)
        elif q.unit == "gb" and q.value > 0:
            gb = float(q.value)
            if gb not in gigabytes:
                gigabytes.append(gb)
    plan_ids: list[str] = []
    for pid, _, _ in plan_hits:
        if pid not in plan_ids:
            plan_ids.append(pid)
    return Entities(
        phones=list(dict.fromkeys(p for p, _, _ in phones)),
        customer_ids=list(dict.fromkeys(customer_ids_in(text))),
        amounts=amounts,
        gigabytes=gigabytes,
        dates=iso_dates(text, lex),
        postcodes=postcodes_in(text),
        plan_ids=plan_ids,
        names=names_in(text, lex),
    )
