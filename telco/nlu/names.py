"""People's names in answers ("It's Maya Lindqvist", "maya lindqvist here") and messages ("my name is ...")."""
from __future__ import annotations

import re
from dataclasses import dataclass

from telco.nlu.lexicon import Lexicon, normalise, phrase_regex

# A name word: letters, with inner apostrophes or hyphens (O'Connor, Smith-Jones, Tomás).
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*\.?$")
# Punctuation ends a name; a full stop does only after a word (so the initial in "Maya J. Lindqvist" stays).
_CUT = re.compile(r"[,;:!?()\[\]{}\"/\n]|(?<=\w\w)\.(?:\s|$)")
MAX_WORDS = 6


@dataclass(frozen=True)
class NameReading:
    name: str | None
    problem: str | None = None


def _fix_case(word: str, lex: Lexicon, first: bool) -> str:
    if word.lower() in lex.name_particles and not first:
        return word.lower() if word.islower() or word.isupper() else word
    if word.islower() or word.isupper():
        # Capitalise every part: "o'connor" -> "O'Connor", "smith-jones" -> "Smith-Jones".
        return re.sub(r"[^\W\d_]+", lambda m: m.group(0).capitalize(), word.lower())
    return word


def read_name(text: str, lex: Lexicon, *, need_full: bool = True) -> NameReading:
    """A name from an answer that should be a name: openers and closers are dropped, casing repaired."""
    low = normalise(text)
    opener = lex.name_opener_re.match(low)
    rest = text[opener.end():] if opener else text
    cut = _CUT.search(rest)
    rest = rest[:cut.start()] if cut else rest
    closer = phrase_regex(lex.name_closers).search(normalise(rest))
    if closer and closer.start() > 0:
        rest = rest[:closer.start()]
    words = rest.split()
    if not words:
        return NameReading(None, "I didn't catch a name there; I need the account holder's full name.")
    if any(any(ch.isdigit() for ch in w) for w in words):
        return NameReading(None, "a name shouldn't contain digits; I need the account holder's full name as it "
                                 "appears on the account.")
    if not all(_NAME_WORD.match(w) for w in words):
        return NameReading(None, "that doesn't look like a name; I need the account holder's full name.")
    if any(w.lower().rstrip(".") in lex.not_name_words for w in words):
        return NameReading(None, "I didn't catch a name there; I need the account holder's full name.")
    if len(words) > MAX_WORDS:
        return NameReading(None, "that's longer than a name; just the account holder's first and last name "
                                 "is enough.")
    core = [w for w in words if w.lower() not in lex.name_particles]
    if need_full and len(core) < 2:
        return NameReading(None, "I need the full name, first and last, as it appears on the account.")
    fixed = [_fix_case(w.rstrip("."), lex, i == 0) if not w.endswith(".") or len(w) > 2 else w.upper()
             for i, w in enumerate(words)]
    return NameReading(" ".join(fixed))


def names_in(text: str, lex: Lexicon) -> list[str]:
    """Names a customer gives about themselves inside a longer message ("... my name is Maya Lindqvist")."""
    out: list[str] = []
    low = normalise(text)
    for m in lex.name_intro_re.finditer(low):
        words = text[m.end():].split()
        if any(ch.isupper() for ch in text):
            # In a written message the name is the run of capitalised words (particles may sit inside it).
            run: list[str] = []
            for i, w in enumerate(words):
                if w[:1].isupper():
                    run.append(w)
                elif w.lower() in lex.name_particles and i + 1 < len(words) and words[i + 1][:1].isupper():
                    run.append(w)
                else:
                    break
                if re.search(r"[,;:!?.]$", w):
                    break
        else:
            run = words[:2]
        reading = read_name(" ".join(run), lex, need_full=False)
        if reading.name and reading.name not in out:
            out.append(reading.name)
    return out
