"""The parts of `telco up/down/status` that need no cluster: settings export, the state record, the summary."""
import os
import subprocess
import sys
import time

import pytest

from cli import cluster as cli_cluster
from telco.config import DEV_API_KEYS, get_settings, load_settings


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    saved = dict(os.environ)  # export_settings_env writes os.environ itself; put it all back afterwards
    for name in list(os.environ):
        if name.startswith("TELCO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


def test_settings_travel_as_absolute_environment(tmp_path):
    (tmp_path / ".env").write_text("TELCO_LIMITS__RATE_PER_MINUTE=900\nOTHER=x\nTELCO_API_KEYS_FILE=keys.yaml\n")
    (tmp_path / "keys.yaml").write_text("- {key: admin-secret-1, role: admin, name: root}\n")
    cli_cluster.export_settings_env()
    assert os.environ["TELCO_API_KEYS_FILE"] == str(tmp_path / "keys.yaml")
    assert [k.name for k in get_settings().api_keys] == ["root"]
    assert os.environ["TELCO_MEMORY_URI"] == str(tmp_path / "var" / "memory")
    assert os.environ["TELCO_LIMITS__RATE_PER_MINUTE"] == "900" and "OTHER" not in os.environ
    assert get_settings().limits.rate_per_minute == 900
    assert cli_cluster.telco_env()["TELCO_MEMORY_URI"] == str(tmp_path / "var" / "memory")


def test_object_store_uris_and_explicit_env_are_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("TELCO_MEMORY_URI", "s3://bucket/memory")
    monkeypatch.setenv("TELCO_LIMITS__RATE_PER_MINUTE", "100")
    (tmp_path / ".env").write_text("TELCO_LIMITS__RATE_PER_MINUTE=900\n")
    cli_cluster.export_settings_env()
    assert os.environ["TELCO_MEMORY_URI"] == "s3://bucket/memory"
    assert os.environ["TELCO_LIMITS__RATE_PER_MINUTE"] == "100"  # the real environment wins over .env


def test_state_round_trip(tmp_path, capsys):
    assert cli_cluster.read_state() is None
    cli_cluster.write_state({"started_head": True, "pid": 123, "address": "127.0.0.1:6379"})
    assert cli_cluster.state_file().parent == tmp_path / "state" / "telco-agents"
    assert cli_cluster.read_state()["pid"] == 123
    cli_cluster.state_file().write_text("{not json")
    assert cli_cluster.read_state() is None and "ignoring unreadable" in capsys.readouterr().err
    cli_cluster.clear_state()
    cli_cluster.clear_state()  # twice is fine
    assert cli_cluster.read_state() is None


def test_summary_prints_dev_keys_only_in_development(monkeypatch):
    text = cli_cluster.describe(load_settings(), "http://127.0.0.1:8265")
    assert "http://127.0.0.1:8000/docs" in text and "http://127.0.0.1:8265" in text
    assert "RAY_AUTH_MODE=token" in text
    for k in DEV_API_KEYS:
        assert k.key.get_secret_value() in text
    monkeypatch.setenv("TELCO_ENV", "production")
    monkeypatch.setenv("TELCO_API_KEYS", '[{"key": "' + "s" * 40 + '", "role": "admin", "name": "root"}]')
    text = cli_cluster.describe(load_settings(), None)
    assert "s" * 40 not in text and "root (admin)" in text and "dashboard" not in text


def test_load_application_refuses_things_that_are_not_apps():
    with pytest.raises(TypeError, match="not a Serve Application"):
        cli_cluster.load_application("telco.config:load_settings")


def test_terminate_stops_exactly_the_given_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        t0 = time.monotonic()
        cli_cluster._terminate(proc.pid, grace_s=10)
        assert not cli_cluster._alive(proc.pid) and time.monotonic() - t0 < 5
        assert bystander.poll() is None
        cli_cluster._terminate(proc.pid)  # already gone: nothing to do, no error
    finally:
        bystander.kill()
        bystander.wait()


def test_a_head_is_seen_when_another_ray_already_runs_here(monkeypatch, tmp_path):
    """`up` waits for the head it started to show up; another Ray's raylet already running on the machine must not
    hide it (Ray caches the first non-empty list of running clusters for the life of the process)."""
    from ray._private.services import find_gcs_addresses

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    (tmp_path / "ray").mkdir()

    def raylet(address: str) -> subprocess.Popen:  # found the way Ray finds a real one: by its name and flag
        script = f'exec -a raylet "$0" -c "import time; time.sleep(30)" --gcs-address={address}'
        return subprocess.Popen(["bash", "-c", script, sys.executable])

    def within_10_s(check) -> bool:
        deadline = time.monotonic() + 10
        while not check() and time.monotonic() < deadline:
            time.sleep(0.1)
        return check()

    started = [raylet("127.0.0.1:1")]
    try:
        assert within_10_s(lambda: "127.0.0.1:1" in find_gcs_addresses())  # Ray now holds this list
        assert cli_cluster.running_head_address() is None  # another Ray runs, none was recorded here
        started.append(raylet("127.0.0.1:2"))
        (tmp_path / "ray" / "ray_current_cluster").write_text("127.0.0.1:2")
        assert within_10_s(lambda: cli_cluster.running_head_address() == "127.0.0.1:2")
    finally:
        for p in started:
            p.kill()
            p.wait()
