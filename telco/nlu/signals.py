"""How the customer sounds: urgency, frustration, asking for a person, complaint language (lexicons in nlu.yaml)."""
from __future__ import annotations

import re

from telco.contract.messages import Signals
from telco.nlu.lexicon import Lexicon, normalise

_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")


def frustration(text: str, lex: Lexicon) -> float:
    """0..1: each frustrated phrase once, plus exclamation marks, plus shouting; clipped to 1."""
    f = lex.frustration
    low = normalise(text)
    score = sum(f.phrases[" ".join(m.group(0).split())] for m in _distinct(lex.frustration_re.finditer(low)))
    score += min(f.max_exclamation, text.count("!") * f.exclamation_weight)
    shouted = [w for w in _CAPS_WORD.findall(text) if w.lower() not in lex.acronyms]
    if len(shouted) >= f.shouting_min_words:
        score += f.shouting_weight
    return round(min(1.0, score), 2)


def _distinct(matches):
    seen: set[str] = set()
    for m in matches:
        key = " ".join(m.group(0).split())
        if key not in seen:
            seen.add(key)
            yield m


def read_signals(text: str, lex: Lexicon) -> Signals:
    low = normalise(text)
    return Signals(
        urgency=bool(lex.urgency_re.search(low)),
        frustration=frustration(text, lex),
        wants_person=bool(lex.wants_person_re.search(low)) and not lex.not_person_re.search(low),
        complaint=bool(lex.complaint_re.search(low)),
    )
