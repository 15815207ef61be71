import pytest
from pydantic import SecretStr

from telco.contract.principal import Principal
from serve.auth import (
    KeyRing, RateLimiter, presented_key, require_admin, require_operations_or_admin, require_role,
)
from telco.config import ApiKey
from telco.errors import Forbidden, RateLimited, Unauthorized

KEYS = [
    ApiKey(key=SecretStr("admin-secret-1"), role="admin", name="root"),
    ApiKey(key=SecretStr("ops-secret-1"), role="operations", name="ops", rate_per_minute=5),
    ApiKey(key=SecretStr("cust-secret-1"), role="customer", name="app-c1001", customer_id="C1001"),
]


@pytest.fixture
def ring():
    return KeyRing(KEYS, default_rate_per_minute=600)


@pytest.mark.parametrize("headers", [
    {"authorization": "Bearer ops-secret-1"},
    {"authorization": "bearer   ops-secret-1  "},
    {"x-api-key": "ops-secret-1"},
    {"authorization": "Bearer ops-secret-1", "x-api-key": "ops-secret-1"},
])
def test_key_is_read_from_either_header(headers):
    assert presented_key(headers) == "ops-secret-1"


@pytest.mark.parametrize("headers, problem", [
    ({}, "missing API key"),
    ({"x-api-key": "  "}, "missing API key"),
    ({"authorization": "Basic b3BzOnNlY3JldA=="}, "must be 'Bearer <key>'"),
    ({"authorization": "Bearer "}, "must be 'Bearer <key>'"),
    ({"authorization": "Bearer ops-secret-1", "x-api-key": "admin-secret-1"}, "two different API keys"),
    ({"x-api-key": "k" * 300}, "not recognised"),
])
def test_missing_or_malformed_keys_are_unauthorized(headers, problem):
    with pytest.raises(Unauthorized, match=problem) as err:
        presented_key(headers)
    assert err.value.http_status == 401


def test_each_key_maps_to_its_principal(ring):
    assert ring.authenticate({"x-api-key": "admin-secret-1"}) == Principal(key_id="root", role="admin")
    assert ring.authenticate({"authorization": "Bearer cust-secret-1"}) == Principal(
        key_id="app-c1001", role="customer", customer_id="C1001")
    assert ring.rates == {"root": 600, "ops": 5, "app-c1001": 600}


@pytest.mark.parametrize("guess", ["ops-secret-2", "ops-secret-1x", "OPS-SECRET-1", "ops-secret", "root"])
def test_near_misses_and_key_names_are_not_keys(ring, guess):
    assert ring.lookup(guess) is None
    with pytest.raises(Unauthorized, match="API key not recognised"):
        ring.authenticate({"x-api-key": guess})


def test_a_keyring_needs_keys():
    with pytest.raises(ValueError, match="at least one API key"):
        KeyRing([], default_rate_per_minute=10)


def test_role_checks():
    admin = Principal(key_id="root", role="admin")
    ops = Principal(key_id="ops", role="operations")
    cust = Principal(key_id="c", role="customer", customer_id="C1001")
    assert require_admin(admin) is admin
    assert require_operations_or_admin(ops) is ops and require_operations_or_admin(admin) is admin
    with pytest.raises(Forbidden, match="needs an admin key; the key 'ops' has role 'operations'") as err:
        require_admin(ops)
    assert err.value.http_status == 403
    with pytest.raises(Forbidden, match="operations or admin"):
        require_operations_or_admin(cust)
    assert require_role(cust, "customer") is cust


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rate_limit_is_a_sliding_window_per_key():
    clock = Clock()
    limiter = RateLimiter({"a": 3, "b": 1}, clock=clock)
    for t in (0, 10, 20):
        clock.now = 1000 + t
        limiter.check("a")
    clock.now = 1030
    with pytest.raises(RateLimited) as err:
        limiter.check("a")
    assert err.value.http_status == 429
    assert err.value.details["retry_after_s"] == 30  # the hit at t=0 leaves the window at t=60
    assert "at most 3 requests per minute" in err.value.message
    limiter.check("b")  # another key has its own window
    clock.now = 1060  # the first hit has aged out; exactly one slot is free again
    limiter.check("a")
    with pytest.raises(RateLimited):
        limiter.check("a")
    clock.now = 1080.5  # hits at 10 and 20 gone, 60 remains alongside the one at 60
    limiter.check("a")


def test_refused_requests_do_not_use_up_the_window():
    clock = Clock()
    limiter = RateLimiter({"a": 2}, clock=clock)
    limiter.check("a")
    limiter.check("a")
    for _ in range(50):
        clock.now += 0.5
        with pytest.raises(RateLimited):
            limiter.check("a")
    clock.now = 1060.0
    limiter.check("a")  # hammering while limited did not push the window forward


def test_retry_after_is_at_least_one_second():
    clock = Clock()
    limiter = RateLimiter({"a": 1}, clock=clock)
    limiter.check("a")
    clock.now = 1059.9
    with pytest.raises(RateLimited) as err:
        limiter.check("a")
    assert err.value.details["retry_after_s"] == 1
