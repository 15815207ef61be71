"""Numbers in free text, with the unit that says what they count: money, gigabytes, or nothing.

"$20", "20 dollars", "twenty five bucks", "20.00" are money; "2 GB", "two gigs", "a couple of gigs", "500 MB" are
data. Spelled-out numbers and units come from telco/data/nlu.yaml.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from telco.nlu.lexicon import Lexicon, normalise

_TOKEN = re.compile(r"\$|\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|\S")
_DIGITS = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?$")

Unit = Literal["money", "gb"]


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: Unit | None
    start: int  # character span in the original text
    end: int
    spelled: bool  # written in words ("two"), not digits
    decimals: int  # digits after the decimal point as written ("20.00" -> 2)


def tokenize(text: str) -> list[Token]:
    # normalise() keeps the length of the text, so spans index the original string too.
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(normalise(text))]


def _unit_at(tokens: list[Token], i: int, lex: Lexicon) -> tuple[Unit | None, int, Decimal]:
    """The unit starting at token i: (unit, tokens used, multiplier)."""
    for width in (2, 1):
        if i + width > len(tokens):
            continue
        words = " ".join(t.text for t in tokens[i:i + width])
        if words in lex.money_words:
            return "money", width, Decimal(1)
        if words in lex.gigabyte_words:
            return "gb", width, Decimal(1)
        if words in lex.megabyte_words:
            return "gb", width, Decimal("0.001")
    return None, 0, Decimal(1)


def _spelled_number(tokens: list[Token], i: int, lex: Lexicon) -> tuple[Decimal, int] | None:
    """A run of number words from token i ("twenty-five", "a hundred and ten"): (value, tokens used)."""
    total, current, used, seen = 0, 0, 0, False
    j = i
    while j < len(tokens):
        word = tokens[j].text
        if (not seen and word in ("a", "an") and j + 1 < len(tokens) and tokens[j + 1].text in lex.numbers
                and tokens[j + 1].text not in ("a", "an")):
            j += 1  # "a couple", "a single": the article is not a number of its own
            continue
        if word in lex.number_scales:
            scale = lex.number_scales[word]
            current = max(current, 1) * scale
            if scale >= 1000:
                total, current = total + current, 0
            seen, j = True, j + 1
            used = j - i
        elif word in lex.numbers and not (seen and word in ("a", "an")):
            current += lex.numbers[word]
            seen, j = True, j + 1
            used = j - i
        elif seen and word in ("-", "and") and j + 1 < len(tokens) and tokens[j + 1].text in lex.numbers:
            j += 1  # "twenty-five", "a hundred and ten": the joiner belongs to the number
        else:
            break
    if not seen:
        return None
    return Decimal(total + current), used


def quantities(text: str, lex: Lexicon) -> list[Quantity]:
    """Every number in the text, in order, each with its unit when one is written next to it."""
    tokens = tokenize(text)
    found: list[Quantity] = []
    i = 0
    while i < len(tokens):
        dollar = tokens[i].text == "$"
        j = i + 1 if dollar else i
        if j >= len(tokens):
            break
        number = _number_at(tokens, j, lex)
        if number is None:
            i += 1
            continue
        value, used, spelled, decimals = number
        # "-2": a minus sign written against the digits (not a dash between words) makes the number negative.
        minus = (not dollar and not spelled and i > 0 and tokens[i - 1].text == "-"
                 and tokens[i - 1].end == tokens[i].start
                 and (i == 1 or tokens[i - 2].end < tokens[i - 1].start))
        if minus:
            value = -value
        k = j + used
        if k < len(tokens) and tokens[k].text == "of":  # "a couple of gigs"
            unit, width, factor = _unit_at(tokens, k + 1, lex)
            width = width + 1 if unit else 0
        else:
            unit, width, factor = _unit_at(tokens, k, lex)
        if dollar:
            unit, factor = "money", Decimal(1)
        bare_article = spelled and used == 1 and tokens[j].text in ("a", "an", "couple")
        if bare_article and unit is None:
            i = j + 1  # "a" on its own is an article, not the number one
            continue
        end_token = tokens[k + width - 1] if width else tokens[k - 1]
        start = tokens[i - 1].start if minus else tokens[i].start
        found.append(Quantity(value * factor, unit, start, end_token.end, spelled, decimals))
        i = k + width
    return found


def _number_at(tokens: list[Token], i: int, lex: Lexicon) -> tuple[Decimal, int, bool, int] | None:
    word = tokens[i].text
    if _DIGITS.match(word):
        try:
            value = Decimal(word.replace(",", ""))
        except InvalidOperation:
            return None
        decimals = len(word.split(".")[1]) if "." in word else 0
        return value, 1, False, decimals
    spelled = _spelled_number(tokens, i, lex)
    if spelled is None:
        return None
    return spelled[0], spelled[1], True, 0


def money_string(value: Decimal) -> str:
    """Money as the decimal string the tools take: two places, no currency sign."""
    return str(value.quantize(Decimal("0.01")))
