"""Which failure an exception is: a typed TelcoError keeps itself, a dead or overloaded backend becomes
BackendUnavailable, anything else an InternalError with an incident id for the server log.

Errors raised inside another deployment arrive wrapped by Ray. Measured on Ray 2.60: the handle raises a
`RayTaskError(<cause class>)` that is also an instance of the cause's class, with the original on `.cause`; an
exception that cannot be rebuilt on this side (its __init__ does not accept its own args) arrives as
`ray.exceptions.UnserializableException` and its type is lost.
"""
from __future__ import annotations

import asyncio
import logging
import uuid

from ray import exceptions as ray_exceptions
from ray.serve import exceptions as serve_exceptions

from telco.errors import BackendUnavailable, TelcoError

log = logging.getLogger("telco.serve")

_UNAVAILABLE = (
    serve_exceptions.BackPressureError,
    serve_exceptions.DeploymentUnavailableError,
    serve_exceptions.ReplicaUnavailableError,
    ray_exceptions.RayActorError,  # ActorDiedError and ActorUnavailableError are subclasses
    ray_exceptions.GetTimeoutError,
    asyncio.TimeoutError,
)


class InternalError(TelcoError):
    code = "internal"
    http_status = 500


def unwrap(exc: BaseException) -> BaseException:
    """The exception a remote deployment actually raised (Ray wraps it, sometimes twice across hops)."""
    seen = 0
    while isinstance(exc, ray_exceptions.RayTaskError) and getattr(exc, "cause", None) is not None and seen < 8:
        exc = exc.cause
        seen += 1
    return exc


def as_telco_error(exc: BaseException) -> TelcoError:
    """Classify any exception from a route or a handle call as a TelcoError carrying the HTTP status to send."""
    exc = unwrap(exc)
    if isinstance(exc, TelcoError):
        return exc
    if isinstance(exc, _UNAVAILABLE):
        return BackendUnavailable(f"a backend service is unavailable ({type(exc).__name__}); retry shortly")
    incident = uuid.uuid4().hex[:12]
    if isinstance(exc, ray_exceptions.UnserializableException):
        log.error("incident %s: a backend raised an error that could not be sent back: %s", incident, exc)
        return InternalError("a backend service failed with an error that could not be transported; "
                             f"see the server log (incident {incident})", incident=incident)
    log.error("incident %s: unhandled error", incident, exc_info=(type(exc), exc, exc.__traceback__))
    return InternalError(f"internal error; see the server log (incident {incident})", incident=incident)
