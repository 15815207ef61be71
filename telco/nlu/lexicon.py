"""The NLU lexicons (telco/data/nlu.yaml), validated once and compiled into matchers."""
from __future__ import annotations

import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable

import yaml
from pydantic import BaseModel, ConfigDict, Field

from telco.data import NLU_FILE


def normalise(text: str) -> str:
    """Lower case with typographic quotes and dashes made plain, so lexicon phrases match what people type."""
    return (text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
            .replace("\u2013", "-").replace("\u2014", "-").lower())


def phrase_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """One pattern matching any phrase as whole words (longest first, so "fed up with" beats "fed up")."""
    items = sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True)
    if not items:
        return re.compile(r"(?!x)x")  # matches nothing
    body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in items)
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w'])")


class MultiIntent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_words: int = Field(ge=1)
    max_alternatives: int = Field(ge=0)
    min_alternative_confidence: float = Field(ge=0, le=1)


class Frustration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phrases: dict[str, float]
    exclamation_weight: float = Field(ge=0, le=1)
    max_exclamation: float = Field(ge=0, le=1)
    shouting_weight: float = Field(ge=0, le=1)
    shouting_min_words: int = Field(ge=1)


class PhoneNumbering(BaseModel):
    """How the operator's numbers are written without the country code, so "555 010 1001" reads as +15550101001."""

    model_config = ConfigDict(extra="forbid")
    country_code: str = Field(pattern=r"^[1-9]\d{0,2}$")
    national_digits: int = Field(ge=6, le=13)


class Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    multi_intent: MultiIntent
    conjunction_openers: list[str]
    adverb_openers: list[str]
    contrast_openers: list[str]
    ask_starts: list[str]
    hedges: list[str]
    additional_markers: list[str]
    working_fine: list[str]
    working_fine_endings: list[str]
    negations: list[str]
    connectives: list[str]
    urgency: list[str]
    frustration: Frustration
    wants_person: list[str]
    not_person: list[str]
    complaint: list[str]
    acronyms: list[str]
    yes_words: list[str]
    no_words: list[str]
    decline: list[str]
    keep_current: list[str]
    dont_know: list[str]
    name_openers: list[str]
    name_intros: list[str]
    name_closers: list[str]
    not_name_words: list[str]
    name_particles: list[str]
    numbers: dict[str, int]
    number_scales: dict[str, int]
    months: dict[str, int]
    money_words: list[str]
    gigabyte_words: list[str]
    megabyte_words: list[str]
    plan_filler_words: list[str]
    plan_family_words: list[str]
    out_of_scope_examples: list[str] = Field(min_length=1)
    phone_numbering: PhoneNumbering

    # Compiled matchers: built on first use and kept with the (frozen) lexicon.
    @cached_property
    def urgency_re(self) -> re.Pattern[str]:
        return phrase_regex(self.urgency)

    @cached_property
    def frustration_re(self) -> re.Pattern[str]:
        return phrase_regex(self.frustration.phrases)

    @cached_property
    def wants_person_re(self) -> re.Pattern[str]:
        return phrase_regex(self.wants_person)

    @cached_property
    def not_person_re(self) -> re.Pattern[str]:
        return phrase_regex(self.not_person)

    @cached_property
    def complaint_re(self) -> re.Pattern[str]:
        return phrase_regex(self.complaint)

    @cached_property
    def conjunction_opener_re(self) -> re.Pattern[str]:
        return phrase_regex(self.conjunction_openers)

    @cached_property
    def adverb_opener_re(self) -> re.Pattern[str]:
        # Only after a comma, semicolon, colon or dash: "my bill is also wrong" stays one clause.
        return re.compile(r"(?<=[,;:\-])\s*(" + phrase_regex(self.adverb_openers).pattern + ")")

    @cached_property
    def opener_start_re(self) -> re.Pattern[str]:
        body = phrase_regex([*self.conjunction_openers, *self.adverb_openers]).pattern
        return re.compile(rf"^[\s,;:\-]*{body}")

    @cached_property
    def hedge_re(self) -> re.Pattern[str]:
        return phrase_regex(self.hedges)

    @cached_property
    def ask_start_re(self) -> re.Pattern[str]:
        return re.compile(r"^\s*" + phrase_regex(self.ask_starts).pattern)

    @cached_property
    def working_fine_re(self) -> re.Pattern[str]:
        return phrase_regex(self.working_fine)

    @cached_property
    def working_fine_end_re(self) -> re.Pattern[str]:
        return re.compile(phrase_regex(self.working_fine_endings).pattern + r"[\s.!,]*$")

    @cached_property
    def contrast_opener_re(self) -> re.Pattern[str]:
        return phrase_regex(self.contrast_openers)

    @cached_property
    def negation_re(self) -> re.Pattern[str]:
        words = [w for w in self.negations if not w.startswith("n'")]
        return re.compile(phrase_regex(words).pattern + r"|n't\b")

    @cached_property
    def additional_re(self) -> re.Pattern[str]:
        return phrase_regex(self.additional_markers)

    @cached_property
    def connective_re(self) -> re.Pattern[str]:
        body = phrase_regex(self.connectives).pattern
        return re.compile(rf"^(?:[\s,;:-]*{body})+[\s,;:-]*")

    @cached_property
    def name_intro_re(self) -> re.Pattern[str]:
        return phrase_regex(self.name_intros)

    @cached_property
    def name_opener_re(self) -> re.Pattern[str]:
        body = phrase_regex(self.name_openers).pattern
        return re.compile(rf"^(?:[\s,;:.!-]*{body})+[\s,;:.!-]*")


@lru_cache(maxsize=4)
def load_lexicon(path: str | Path = NLU_FILE) -> Lexicon:
    raw = yaml.safe_load(Path(path).read_text())
    return Lexicon.model_validate(raw)
