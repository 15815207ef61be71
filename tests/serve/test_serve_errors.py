import json

import pytest
from ray import exceptions as ray_exceptions
from ray.serve import exceptions as serve_exceptions

from actors.runtime.errors import InternalError, as_telco_error, unwrap
from serve.errors import error_response
from telco.errors import BackendUnavailable, Forbidden, NotFound, RateLimited, TelcoError, Unauthorized


def wrapped(cause: BaseException) -> ray_exceptions.RayTaskError:
    """What a handle call raises when the deployment raised `cause` (Ray 2.60: a dual-class RayTaskError)."""
    return ray_exceptions.RayTaskError("Planner.handle_turn", "Traceback: ...", cause).as_instanceof_cause()


def test_a_wrapped_telco_error_keeps_its_class_status_and_details():
    err = wrapped(NotFound("conversation conv-1 not found", conversation_id="conv-1"))
    assert isinstance(err, ray_exceptions.RayTaskError)
    mapped = as_telco_error(err)
    assert type(mapped) is NotFound
    assert (mapped.http_status, mapped.message, mapped.details) == (404, "conversation conv-1 not found",
                                                                    {"conversation_id": "conv-1"})


def test_errors_wrapped_across_two_hops_are_unwrapped():
    inner = ray_exceptions.RayTaskError("Technical.step", "tb", Forbidden("not yours"))
    outer = ray_exceptions.RayTaskError("Planner.handle_turn", "tb", inner)
    assert type(unwrap(outer)) is Forbidden
    assert as_telco_error(outer).http_status == 403


@pytest.mark.parametrize("exc", [
    serve_exceptions.BackPressureError(num_queued_requests=10, max_queued_requests=5),
    ray_exceptions.ActorDiedError(),
    TimeoutError(),
])
def test_an_unavailable_backend_is_503(exc):
    mapped = as_telco_error(exc)
    assert isinstance(mapped, BackendUnavailable) and mapped.http_status == 503
    assert type(exc).__name__ in mapped.message


def test_anything_else_is_500_with_an_incident_and_no_internals():
    mapped = as_telco_error(wrapped(KeyError("secret_column")))
    assert isinstance(mapped, InternalError) and mapped.http_status == 500
    assert "secret_column" not in mapped.message
    assert mapped.details["incident"] in mapped.message


def test_unserializable_remote_errors_are_500_not_a_crash():
    mapped = as_telco_error(ray_exceptions.UnserializableException("PolicyDenied could not be rebuilt"))
    assert isinstance(mapped, InternalError)
    assert "could not be transported" in mapped.message


def test_error_response_is_an_error_out_with_the_right_headers():
    r = error_response(RateLimited("slow down", retry_after_s=7))
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert json.loads(r.body) == {"code": "rate_limited", "message": "slow down", "details": {"retry_after_s": 7}}
    r = error_response(Unauthorized("missing API key"))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert json.loads(r.body) == {"code": "unauthorized", "message": "missing API key"}


def test_the_base_error_maps_to_400():
    assert error_response(TelcoError("bad")).status_code == 400
