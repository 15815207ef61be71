"""Typed errors every layer raises and every boundary translates (HTTP 4xx, tool results, CLI)."""
from __future__ import annotations


class TelcoError(Exception):
    """Base error: a stable machine-readable code plus a message that says what is wrong."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, **({"details": self.details} if self.details else {})}


class InvalidInput(TelcoError):
    code = "invalid_input"
    http_status = 422


class NotFound(TelcoError):
    code = "not_found"
    http_status = 404


class PolicyDenied(TelcoError):
    """A write refused by a named policy rule (see telco/data/policy.yaml and telco/policy.py)."""

    code = "policy_denied"
    http_status = 403

    def __init__(self, rule: str, message: str, **details: object) -> None:
        super().__init__(message, rule=rule, **details)
        self.rule = rule


class IdentityNotVerified(PolicyDenied):
    code = "identity_not_verified"

    def __init__(self, message: str = "the customer's identity must be verified before account changes") -> None:
        super().__init__("identity.verified_before_account_change", message)


class IdempotencyConflict(TelcoError):
    """The same idempotency key was reused with different arguments."""

    code = "idempotency_conflict"
    http_status = 409


class BackendUnavailable(TelcoError):
    code = "backend_unavailable"
    http_status = 503
