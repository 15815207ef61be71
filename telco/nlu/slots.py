"""Reading one answer out of a free-text reply, by the kind of answer the question wants.

Every reader returns a SlotResult: ok with a typed value, ok with None when the customer turned the offer down
("no thanks", "keep my plan"), or not ok with a `problem` written so the dialogue can say it and ask again.
"""
from __future__ import annotations

from decimal import Decimal

from telco.contract.messages import SlotRequest, SlotResult
from telco.nlu.dates import EXAMPLE as DATE_EXAMPLE
from telco.nlu.dates import find_dates
from telco.nlu.entities import POSTCODE, customer_ids_in, phones_in
from telco.nlu.lexicon import Lexicon, normalise, phrase_regex
from telco.nlu.names import read_name
from telco.nlu.numbers import money_string, quantities
from telco.nlu.plans import PlanCatalogue

MAX_ANSWER_CHARS = 2_000


def _said(text: str, phrases: list[str]) -> bool:
    return bool(phrase_regex(phrases).search(normalise(text)))


def _only(text: str, phrases: list[str]) -> bool:
    """The whole answer is one of the phrases (give or take punctuation and a trailing "thanks")."""
    core = " ".join(normalise(text).replace(",", " ").replace(".", " ").replace("!", " ").split())
    for tail in (" thanks", " thank you", " please", " sorry"):
        core = core.removesuffix(tail)
    return core in {" ".join(p.lower().split()) for p in phrases}


def read_slot(req: SlotRequest, lex: Lexicon, plans: PlanCatalogue) -> SlotResult:
    text = req.text.strip()
    if len(text) > MAX_ANSWER_CHARS:
        return _problem(req, f"that answer is too long to read ({len(text)} characters); a short reply is enough.")
    if not text:
        if req.kind in IDENTITY_KINDS:
            return _ok(req, None)  # nothing given for an identity detail: another way to prove it is offered
        return _problem(req, "I didn't get an answer there.")
    reader = _READERS[req.kind]
    return reader(req, text, lex, plans)


def _ok(req: SlotRequest, value) -> SlotResult:
    return SlotResult(slot=req.slot, ok=True, value=value)


def _problem(req: SlotRequest, problem: str) -> SlotResult:
    return SlotResult(slot=req.slot, ok=False, problem=problem[:1].upper() + problem[1:])


def _declined(text: str, lex: Lexicon) -> bool:
    return _only(text, lex.decline) or _only(text, lex.dont_know)


def _text(req, text, lex, plans):
    if _only(text, lex.dont_know):
        return _problem(req, "I need this to carry on; a best guess is fine and can be corrected later.")
    return _ok(req, " ".join(text.split()))


def _name(req, text, lex, plans):
    if _only(text, lex.dont_know) or _only(text, lex.decline):
        return _problem(req, "I can't look at the account without the account holder's name; I need the full "
                             "name as it appears on the account.")
    reading = read_name(text, lex)
    return _ok(req, reading.name) if reading.name else _problem(req, reading.problem)


def _date(req, text, lex, plans):
    if _only(text, lex.dont_know) or _only(text, lex.decline):
        return _problem(req, f"I need a date to go on with; please give one {DATE_EXAMPLE}.")
    found = find_dates(text, lex)
    readable = list(dict.fromkeys(f.iso for f in found if f.iso))
    if len(readable) == 1:
        return _ok(req, readable[0])
    if len(readable) > 1:
        return _problem(req, f"I see more than one date there ({', '.join(readable)}). Which one do you mean?")
    for f in found:
        if f.problem:
            return _problem(req, f.problem[0].upper() + f.problem[1:])
    return _problem(req, f"I couldn't find a date in that. Please write it {DATE_EXAMPLE}.")


def _number(req, text, lex, plans):
    if _declined(text, lex):
        return _ok(req, None)
    values = [q for q in quantities(text, lex) if q.unit != "money"]
    distinct = list(dict.fromkeys(q.value for q in values))
    if not distinct:
        return _problem(req, "I couldn't find a number in that; a number such as 2 is enough.")
    if len(distinct) > 1:
        shown = ", ".join(_plain(v) for v in distinct)
        return _problem(req, f"I see more than one number there ({shown}). Which one do you mean?")
    value = distinct[0]
    if value < 0:
        return _problem(req, "that number is below zero; I need a number of 1 or more.")
    if value == 0:
        return _ok(req, None)
    return _ok(req, int(value) if value == value.to_integral_value() else float(value))


def _plain(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())


def _amount(req, text, lex, plans):
    if _declined(text, lex):
        return _ok(req, None)
    found = quantities(text, lex)
    money = [q for q in found if q.unit == "money"] or [q for q in found if q.unit is None]
    distinct = list(dict.fromkeys(q.value for q in money))
    if not distinct:
        if any(q.unit == "gb" for q in found):
            return _problem(req, "that sounds like an amount of data; I need an amount of money, such as $20.")
        return _problem(req, "I couldn't find an amount of money in that; an amount such as $20 is enough.")
    if len(distinct) > 1:
        shown = ", ".join(f"${money_string(v)}" for v in distinct)
        return _problem(req, f"I see more than one amount there ({shown}). Which one do you mean?")
    value = distinct[0]
    if value < 0:
        return _problem(req, "an amount can't be negative; I need an amount such as $20.")
    if value == 0:
        return _ok(req, None)
    if value.as_tuple().exponent < -2:
        return _problem(req, "amounts go to the cent, such as $20.50.")
    return _ok(req, money_string(value))


def _postcode(req, text, lex, plans):
    if _only(text, lex.dont_know) or _only(text, lex.decline):
        return _problem(req, "I need the postcode to check what we can offer there, for example NG1 7QP.")
    codes = list(dict.fromkeys(f"{m.group(1).upper()} {m.group(2).upper()}" for m in POSTCODE.finditer(text)))
    if len(codes) == 1:
        return _ok(req, codes[0])
    if len(codes) > 1:
        return _problem(req, f"I see more than one postcode there ({', '.join(codes)}). Which one is the new address?")
    return _problem(req, "I couldn't read a full postcode in that. Please give all of it, for example NG1 7QP.")


def _plan(req, text, lex, plans):
    named = plans.ids_in(text)
    if _said(text, lex.keep_current) or (not named and _declined(text, lex)):
        return _ok(req, None)
    if len(named) == 1:
        return _ok(req, named[0])
    if len(named) > 1:
        return _problem(req, "you mentioned more than one plan (" + _listing(named, plans) + "). Which one would "
                             "you like?")
    hinted = plans.candidates(text)
    if len(hinted) == 1:
        return _ok(req, next(iter(hinted)))
    hinted = hinted or plans.family(text, lex.plan_family_words)
    if hinted:
        return _problem(req, "which one do you mean: " + _listing(sorted(hinted), plans) + "?")
    return _problem(req, "I couldn't tell which plan you mean. The plans are " + _listing(sorted(plans.names), plans)
                    + "; or say 'keep my plan'.")


def _listing(ids, plans: PlanCatalogue) -> str:
    names = [plans.display(pid) for pid in ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _yes_no(req, text, lex, plans):
    # "I'm not sure" holds "sure": take the don't-knows out before looking for a yes or a no.
    low = phrase_regex(lex.dont_know).sub(" ", normalise(text))
    yes = phrase_regex(lex.yes_words).search(low)
    no = phrase_regex(lex.no_words).search(low)
    if yes and no:
        # "No, I wasn't" is a no; "yes, I was" a yes: the answer's first word decides, as people answer first.
        return _ok(req, yes.start() < no.start())
    if yes:
        return _ok(req, True)
    if no:
        return _ok(req, False)
    if _said(text, lex.dont_know):
        return _ok(req, None)
    return _problem(req, "I didn't catch a yes or a no there; a plain yes or no is enough.")


# ---- identity details ---------------------------------------------------------------------------------
# Policy allows several ways to prove who one is, so a detail the customer does not know is an answer (None) that
# moves the identify flow to another way, never a reason to ask the same question again.
IDENTITY_KINDS = frozenset({"full_name", "birth_date", "phone", "customer_id"})
BIRTH_EXAMPLE = "like 1985-07-21 or 21 July 1985"


def _not_known(text: str, lex: Lexicon) -> bool:
    return _said(text, lex.dont_know) or _only(text, lex.decline)


def _full_name(req, text, lex, plans):
    reading = read_name(text, lex)
    if reading.name:
        return _ok(req, reading.name)
    if _not_known(text, lex):
        return _ok(req, None)
    return _problem(req, reading.problem or "I need the account holder's full name.")


def _birth_date(req, text, lex, plans):
    found = find_dates(text, lex)
    readable = list(dict.fromkeys(f.iso for f in found if f.iso))
    if len(readable) == 1:
        return _ok(req, readable[0])
    if len(readable) > 1:
        return _problem(req, f"I see more than one date there ({', '.join(readable)}). Which one is the date of "
                             "birth?")
    if _not_known(text, lex):
        return _ok(req, None)
    for f in found:
        if f.problem:
            return _problem(req, f.problem[0].upper() + f.problem[1:])
    return _problem(req, f"I couldn't find a date in that. Please write the date of birth {BIRTH_EXAMPLE}.")


def _phone(req, text, lex, plans):
    numbers = list(dict.fromkeys(n for n, _, _ in phones_in(text, lex.phone_numbering)))
    if len(numbers) == 1:
        return _ok(req, numbers[0])
    if len(numbers) > 1:
        return _problem(req, f"I see more than one number there ({', '.join(numbers)}). Which one is on the "
                             "account?")
    if _not_known(text, lex):
        return _ok(req, None)
    digits = sum(ch.isdigit() for ch in text)
    whole = lex.phone_numbering.national_digits
    if digits:
        return _problem(req, f"that doesn't look like a whole phone number; I need all {whole} digits, with the "
                             "area code.")
    return _problem(req, f"I couldn't find a phone number in that; all {whole} digits with the area code is enough.")


def _customer_id(req, text, lex, plans):
    ids = list(dict.fromkeys(customer_ids_in(text)))
    if len(ids) == 1:
        return _ok(req, ids[0])
    if len(ids) > 1:
        return _problem(req, f"I see more than one customer number there ({', '.join(ids)}). Which one is yours?")
    if _not_known(text, lex):
        return _ok(req, None)
    return _problem(req, "I couldn't find a customer number in that; it is a C followed by digits, such as C1234, "
                         "and is printed on every bill.")


_READERS = {
    "text": _text,
    "name": _name,
    "date": _date,
    "number": _number,
    "amount": _amount,
    "postcode": _postcode,
    "plan": _plan,
    "yes_no": _yes_no,
    "full_name": _full_name,
    "birth_date": _birth_date,
    "phone": _phone,
    "customer_id": _customer_id,
}
