"""Which of a customer's services a flow works on, read off the account's details.

A customer with several lines is asked which number has the problem (unless they already said, or named the
service); a customer who has no service of the kind the flow is for is told so plainly.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from telco.data import SCOPE_FILE

Service = Literal["mobile", "broadband", "account"]
# The scope key each kind of flow works on.
SCOPE_KEY: dict[str, str] = {"mobile": "line_id", "broadband": "service_id", "account": "customer_id"}


class ScopeWords(BaseModel):
    service_names: dict[str, str]
    not_on_account: str
    which_line: str
    max_line_asks: int
    starting_with: str


@lru_cache(maxsize=1)
def scope_words() -> ScopeWords:
    return ScopeWords.model_validate(yaml.safe_load(SCOPE_FILE.read_text()))


class Located(BaseModel):
    scope: dict[str, Any] = {}  # complete when exactly one service fits
    choices: list[str] = []  # the numbers to choose between when several fit
    missing: bool = False  # the account has no service of this kind


def digits(text: Any) -> str:
    return re.sub(r"\D", "", str(text or ""))


def _same_number(said: str, number: str) -> bool:
    # Customers drop the country code or the leading zero; the last seven digits identify a line on one account.
    said, number = digits(said), digits(number)
    return len(said) >= 7 and (said[-7:] == number[-7:])


def locate(details: dict[str, Any], service: Service, wanted: str | None = None,
           said_number: str | None = None) -> Located:
    """The scope for `service` on this account: the named service, the line whose number the customer gave, the
    only one there is — or the choices to ask about, or `missing`."""
    scope: dict[str, Any] = {
        "customer_id": details["customer_id"],
        "area_id": details["address"]["area_id"],
        "postcode": details["address"]["postcode"],
    }
    lines = [s for s in details.get("lines", []) if s.get("status") != "closed"]
    broadband = [s for s in details.get("broadband", []) if s.get("status") != "closed"]
    if service == "account":
        # Account flows take the only line and broadband service as context, when there is just one.
        line = lines[0] if len(lines) == 1 else None
        bb = broadband[0] if len(broadband) == 1 else None
        return Located(scope=_with(scope, line, bb, service))
    candidates = lines if service == "mobile" else broadband
    if wanted:
        candidates = [s for s in candidates if wanted in (s.get("line_id"), s.get("service_id"))]
    if service == "mobile" and said_number and len(candidates) > 1:
        candidates = [s for s in candidates if _same_number(said_number, s["number"])] or candidates
    if not candidates:
        return Located(missing=True)
    if len(candidates) > 1:
        return Located(choices=[s.get("number") or s.get("service_id") for s in candidates])
    chosen = candidates[0]
    return Located(scope=_with(scope, chosen if service == "mobile" else None,
                               chosen if service == "broadband" else None, service))


def _with(scope: dict[str, Any], line: dict[str, Any] | None, bb: dict[str, Any] | None,
          service: Service) -> dict[str, Any]:
    if line:
        scope.update(line_id=line["line_id"], number=line["number"], line_plan_id=line["plan_id"])
    if bb:
        scope.update(service_id=bb["service_id"], service_area_id=bb["area_id"], broadband_plan_id=bb["plan_id"],
                     technology=bb["technology"])
        if service == "broadband":
            scope["area_id"] = bb["area_id"]
    return scope

