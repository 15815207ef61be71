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

    def __reduce__(self):
        # Errors cross Ray process boundaries pickled; subclasses take different constructor arguments.
        return (_rebuild, (type(self), self.message, self.details, self.code))


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


class Unauthorized(TelcoError):
    code = "unauthorized"
    http_status = 401


class Forbidden(TelcoError):
    code = "forbidden"
    http_status = 403


class Conflict(TelcoError):
    """The request raced another one on the same record (e.g. two turns on one conversation at once)."""

    code = "conflict"
    http_status = 409


class TooLarge(TelcoError):
    code = "too_large"
    http_status = 413


class RateLimited(TelcoError):
    code = "rate_limited"
    http_status = 429


def error_from_dict(data: dict[str, object]) -> TelcoError:
    """Rebuild a typed error that crossed a process boundary as data (see TelcoError.to_dict)."""
    code = str(data.get("code", "error"))
    details = dict(data.get("details") or {})  # type: ignore[call-overload]
    cls = next((c for c in [TelcoError, *_all_subclasses(TelcoError)] if c.code == code), TelcoError)
    return _rebuild(cls, str(data.get("message", "unknown error")), details, code)


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def _rebuild(cls: type, message: str, details: dict[str, object], code: str) -> TelcoError:
    err = cls.__new__(cls)
    TelcoError.__init__(err, message, **details)
    if "rule" in details:
        err.rule = details["rule"]  # type: ignore[attr-defined]
    err.code = code
    return err
