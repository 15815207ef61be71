"""Identity: finding a customer, proving who they are, and choosing how to ask them.

Policy (telco/data/policy.yaml identity.methods) lists the combinations of details that prove identity; each has
one verification tool here, which refuses to run when policy does not list its method. Every failed match counts
against identity.max_failed_attempts for the conversation, and a failure never says which detail was wrong, nor
whether a number, a customer id or a name exists at all: someone guessing learns nothing from it.

plan_identity_check is the identify flow's (telco/data/playbooks/identify.yaml) brain: from what the customer has
given and not known so far it picks the method to work towards and the one question to ask next, so the flow
stays data while the choice follows the policy's list.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from telco.errors import InvalidInput, NotFound
from telco.models import Customer
from telco.policy import IdentityDetail, check_identity_attempts, check_identity_method, check_own_records, load_policy
from telco.tools.context import ToolContext
from telco.tools.fields import Args, Id, IsoDate, PhoneArg, Text
from telco.tools.reads import CustomerArgs
from telco.tools.results import CustomerMatch, IdentityResult, Result
from telco.tools.spec import ToolSpec


# ---- looking a customer up (does not verify) ----------------------------------------------------------------
def _match(ctx: ToolContext, customer: Customer, on: str, line_id: str | None = None) -> CustomerMatch:
    check_own_records(ctx.verified_customer_id, customer.id)
    return CustomerMatch(
        customer_id=customer.id, name=customer.name, matched_on=on, line_id=line_id,
        verified=ctx.verified_customer_id == customer.id,
    )


class PhoneArgs(Args):
    phone: PhoneArg


def find_customer_by_phone(ctx: ToolContext, a: PhoneArgs) -> CustomerMatch:
    sb = ctx.sandbox
    for customer in sb.world.customers.values():
        if customer.phone == a.phone:
            return _match(ctx, customer, "account_phone")
    line = sb.line_by_number(a.phone)
    return _match(ctx, sb.customer(line.customer_id), "line_number", line.id)


def find_customer_by_id(ctx: ToolContext, a: CustomerArgs) -> CustomerMatch:
    return _match(ctx, ctx.sandbox.customer(a.customer_id), "customer_id")


# ---- verifying: one tool per method policy allows -----------------------------------------------------------
def _attempts_left(ctx: ToolContext) -> int:
    return max(load_policy().identity.max_failed_attempts - ctx.failed_identity_attempts, 0)


def _folded(name: str) -> str:
    # Case, spacing and accents are how a name is typed, not which name it is: "tomas  herrera" is Tomás Herrera.
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", plain).strip().casefold()


def _same_name(a: str, b: str) -> bool:
    return _folded(a) == _folded(b)


def _attempt(ctx: ToolContext, method: str) -> None:
    check_identity_method(method)
    check_identity_attempts(ctx.failed_identity_attempts)


def _not_matched(ctx: ToolContext, what: str) -> NotFound:
    """A failed attempt, counted; the same words whichever detail was wrong or unknown."""
    ctx.failed_identity_attempts += 1
    left = _attempts_left(ctx)
    return NotFound(f"no account matches that {what} together ({left} attempts left)", kind="customer",
                    attempts_left=left)


def _verified(ctx: ToolContext, found: list[str], what: str) -> IdentityResult:
    if not found:
        raise _not_matched(ctx, what)
    if len(found) > 1:
        # Not a failed attempt: the details are right, they just do not single out one account.
        raise InvalidInput(f"several accounts match that {what}; verify another way")
    check_own_records(ctx.verified_customer_id, found[0])
    ctx.verified_customer_id = found[0]
    return IdentityResult(customer_id=found[0], verified=True, attempts_left=_attempts_left(ctx),
                          message="identity verified")


class NameDobArgs(Args):
    name: Text
    date_of_birth: IsoDate


def find_customer_by_name_dob(ctx: ToolContext, a: NameDobArgs) -> IdentityResult:
    _attempt(ctx, "name_and_date_of_birth")
    found = [c.id for c in ctx.sandbox.world.customers.values()
             if c.date_of_birth == a.date_of_birth and _same_name(c.name, a.name)]
    return _verified(ctx, found, "name and date of birth")


class PhoneNameArgs(Args):
    phone: PhoneArg
    name: Text


def verify_phone_and_name(ctx: ToolContext, a: PhoneNameArgs) -> IdentityResult:
    _attempt(ctx, "phone_and_name")
    world = ctx.sandbox.world
    # The account's contact number or a line on it that is still the customer's (a closed line's number may
    # belong to someone else by now).
    owners = {c.id for c in world.customers.values() if c.phone == a.phone}
    owners |= {line.customer_id for line in world.lines.values() if line.number == a.phone and line.status != "closed"}
    found = sorted(cid for cid in owners if cid in world.customers and _same_name(world.customers[cid].name, a.name))
    return _verified(ctx, found, "phone number and name")


class CustomerIdNameArgs(Args):
    customer_id: Id
    name: Text


def verify_customer_id_and_name(ctx: ToolContext, a: CustomerIdNameArgs) -> IdentityResult:
    _attempt(ctx, "customer_id_and_name")
    customer = ctx.sandbox.world.customers.get(a.customer_id.upper())
    found = [customer.id] if customer is not None and _same_name(customer.name, a.name) else []
    return _verified(ctx, found, "customer number and name")


class VerifyArgs(Args):
    customer_id: Id
    date_of_birth: IsoDate


def verify_identity(ctx: ToolContext, a: VerifyArgs) -> IdentityResult:
    _attempt(ctx, "customer_id_and_date_of_birth")
    check_own_records(ctx.verified_customer_id, a.customer_id)
    customer = ctx.sandbox.world.customers.get(a.customer_id.upper())
    if customer is None or customer.date_of_birth != a.date_of_birth:
        # An unknown customer id reads exactly like a wrong date of birth.
        ctx.failed_identity_attempts += 1
        return IdentityResult(customer_id=a.customer_id, verified=False, attempts_left=_attempts_left(ctx),
                              message="the customer id and date of birth do not match our records")
    ctx.verified_customer_id = customer.id
    return IdentityResult(
        customer_id=customer.id, verified=True, attempts_left=_attempts_left(ctx), message="identity verified"
    )


# ---- choosing what to ask -----------------------------------------------------------------------------------
class IdentityPlan(Result):
    """What the identify flow does next, and what the next plan needs to remember."""

    action: Literal["ask", "check", "stop"]
    detail: IdentityDetail | None = None  # action "ask": the one detail to ask for
    method: str | None = None  # the method worked towards; for action "check" the one whose tool runs now
    # Why this turn of the flow says something: a check matched no account, a detail was not known, a method
    # cannot single out the account, every attempt is used, or no method is left.
    because: Literal["not_matched", "not_known", "unusable", "attempts_used", "no_method"] | None = None
    attempts_left: int
    failed_attempts: int  # when this plan was made: the next plan tells a failed check from one that was not made
    # Details a failed check used, to be asked again before any check relies on them (value: how often the
    # question had been asked when the check failed).
    recheck: dict[str, int] = {}
    unusable: list[str] = []  # methods that cannot single out one account with these details


class PlanArgs(Args):
    # The identify run's slots: a detail's value, or None when the customer said they do not know it.
    details: dict[str, Any] = {}
    asked: dict[str, int] = {}  # how many times each question has been put to the customer, re-asks included
    previous: IdentityPlan | None = None  # this tool's previous answer in the same run


def plan_identity_check(ctx: ToolContext, a: PlanArgs) -> IdentityPlan:
    policy = load_policy().identity
    limit = policy.max_failed_attempts
    used = ctx.failed_identity_attempts
    prev = a.previous
    recheck = dict(prev.recheck) if prev else {}
    unusable = list(prev.unusable) if prev else []
    because = None
    if prev is not None and prev.action == "check" and prev.method:
        if used > prev.failed_attempts:
            because = "not_matched"
            tried = policy.method(prev.method)
            recheck.update({d: a.asked.get(d, 0) for d in (tried.details if tried else [])})
        else:
            because = "unusable"
            unusable.append(prev.method)
    left = max(limit - used, 0)

    def plan(action, **fields) -> IdentityPlan:
        return IdentityPlan(action=action, attempts_left=left, failed_attempts=used, recheck=recheck,
                            unusable=unusable, **fields)

    if left == 0:
        return plan("stop", because="attempts_used")
    # A detail asked again since the failed check is the customer's fresh answer.
    recheck = {d: n for d, n in recheck.items() if a.asked.get(d, 0) <= n}

    def known(d: str) -> bool:
        return a.details.get(d) is not None and d not in recheck

    def askable(d: str) -> bool:
        # Not when the customer said they do not know it, and never more often than the attempt limit.
        not_known = d in a.details and a.details[d] is None and d not in recheck
        return not not_known and a.asked.get(d, 0) < limit

    # Fewest questions first; on a tie the method already under way (a wrong detail gets another try the same
    # way), then the policy's order.
    current = prev.method if prev else None
    options = []
    for order, method in enumerate(policy.methods):
        missing = [d for d in method.details if not known(d)]
        if method.id not in unusable and all(askable(d) for d in missing):
            options.append((len(missing), method.id != current, order, method.id, missing))
    if not options:
        return plan("stop", because="no_method")
    *_, method_id, missing = min(options)
    if because is None and prev is not None and prev.method not in (None, method_id):
        because = "not_known"  # the way we were going needs a detail the customer does not have
    if missing:
        return plan("ask", detail=missing[0], method=method_id, because=because)
    return plan("check", method=method_id, because=because)


IDENTITY_READS = [
    ToolSpec("find_customer_by_phone", "read", "Find the customer who owns a phone number (account contact number "
             "or a mobile line); does not verify identity.", PhoneArgs, CustomerMatch, find_customer_by_phone),
    ToolSpec("find_customer_by_id", "read", "Look up a customer by customer id; does not verify identity.",
             CustomerArgs, CustomerMatch, find_customer_by_id),
    ToolSpec("find_customer_by_name_dob", "read", "Find and verify a customer by full name and date of birth "
             "(YYYY-MM-DD); a match verifies identity for this conversation.", NameDobArgs, IdentityResult,
             find_customer_by_name_dob),
    ToolSpec("verify_phone_and_name", "read", "Verify a customer by the number of a mobile line on the account "
             "(or the account's contact number) and the account holder's full name.", PhoneNameArgs,
             IdentityResult, verify_phone_and_name),
    ToolSpec("verify_customer_id_and_name", "read", "Verify a customer by customer id and the account holder's "
             "full name.", CustomerIdNameArgs, IdentityResult, verify_customer_id_and_name),
    ToolSpec("verify_identity", "read", "Verify a customer's identity with their date of birth (YYYY-MM-DD), "
             "after finding them by phone number.", VerifyArgs, IdentityResult, verify_identity),
    ToolSpec("plan_identity_check", "read", "Which identity question to ask next, or which verification to run, "
             "given the details the customer gave and did not know (policy identity.methods).", PlanArgs,
             IdentityPlan, plan_identity_check),
]
