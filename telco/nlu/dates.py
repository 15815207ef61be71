"""Calendar dates in free text, returned as ISO strings (YYYY-MM-DD).

Read: ISO dates, 2026/12/15, 14 March 1987, 14th of March 1987, March 14, 1987, and day/month/year with slashes
or dots when the order is clear (a part above 12). Anything that looks like a date but cannot be pinned down
(no year, two-digit year, 03/04/2026, 30 February) comes back with a problem that says what is missing.
Relative dates ("next Friday") are not read: the agent has no clock of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from telco.nlu.lexicon import Lexicon, normalise

EXAMPLE = "like 2026-12-15 or 15 December 2026"


@dataclass(frozen=True)
class FoundDate:
    iso: str | None  # None when the text looks like a date that cannot be pinned down
    start: int
    end: int
    problem: str | None = None


@lru_cache(maxsize=4)
def _patterns(months: tuple[str, ...]) -> list[tuple[str, re.Pattern[str]]]:
    month = "|".join(sorted(months, key=len, reverse=True))
    ordinal = r"(?:st|nd|rd|th)?"
    return [
        ("ymd", re.compile(r"(?<![\d/.-])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d/.-]*\d)")),
        ("dmy_numeric", re.compile(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?![\d/.-]*\d)")),
        ("d_month_y", re.compile(rf"\b(\d{{1,2}}){ordinal}\s+(?:of\s+)?({month})\.?,?\s+(\d{{4}})\b")),
        ("month_d_y", re.compile(rf"\b({month})\.?\s+(\d{{1,2}}){ordinal},?\s+(\d{{4}})\b")),
        ("d_month", re.compile(rf"\b(\d{{1,2}}){ordinal}\s+(?:of\s+)?({month})\b")),
        ("month_d", re.compile(rf"\b({month})\.?\s+(\d{{1,2}}){ordinal}\b(?!\s*(?:gb|mb|dollars?|\$))")),
    ]


def _make(y: int, m: int, d: int, start: int, end: int) -> FoundDate:
    try:
        return FoundDate(date(y, m, d).isoformat(), start, end)
    except ValueError:
        return FoundDate(None, start, end, f"{y:04d}-{m:02d}-{d:02d} is not a date on the calendar; "
                                           f"please check the day and month ({EXAMPLE})")


def find_dates(text: str, lex: Lexicon) -> list[FoundDate]:
    """Dates in order of appearance; overlapping readings keep the first, most specific pattern."""
    low = normalise(text)
    months = lex.months
    taken: list[tuple[int, int]] = []
    found: list[FoundDate] = []
    for kind, pattern in _patterns(tuple(months)):
        for m in pattern.finditer(low):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            item = _read(kind, m.groups(), months, s, e)
            if item is not None:
                taken.append((s, e))
                found.append(item)
    return sorted(found, key=lambda f: f.start)


def _read(kind: str, g: tuple[str, ...], months: dict[str, int], s: int, e: int) -> FoundDate | None:
    if kind == "ymd":
        return _make(int(g[0]), int(g[1]), int(g[2]), s, e)
    if kind == "d_month_y":
        return _make(int(g[2]), months[g[1]], int(g[0]), s, e)
    if kind == "month_d_y":
        return _make(int(g[2]), months[g[0]], int(g[1]), s, e)
    if kind in ("d_month", "month_d"):
        day = int(g[0] if kind == "d_month" else g[1])
        if not 1 <= day <= 31:
            return None
        return FoundDate(None, s, e, f"which year? Please give the full date, {EXAMPLE}")
    # dmy_numeric: day and month order is only certain when one part cannot be a month.
    a, b, year_text = int(g[0]), int(g[1]), g[2]
    if len(year_text) == 2:
        return FoundDate(None, s, e, f"please write the year in full, {EXAMPLE}")
    year = int(year_text)
    if a > 12 and b <= 12:
        return _make(year, b, a, s, e)
    if b > 12 and a <= 12:
        return _make(year, a, b, s, e)
    if a == b:
        return _make(year, a, b, s, e)
    if a > 12 and b > 12:
        return FoundDate(None, s, e, f"{g[0]}/{g[1]}/{year_text} is not a date; please write it {EXAMPLE}")
    first, second = _month_name(b, months), _month_name(a, months)
    return FoundDate(None, s, e, f"{g[0]}/{g[1]}/{year_text} could be {a} {first} or {b} {second}; "
                                 f"please write it {EXAMPLE}")


def _month_name(number: int, months: dict[str, int]) -> str:
    return max((name for name, n in months.items() if n == number), key=len).capitalize()


def iso_dates(text: str, lex: Lexicon) -> list[str]:
    out: list[str] = []
    for f in find_dates(text, lex):
        if f.iso and f.iso not in out:
            out.append(f.iso)
    return out
