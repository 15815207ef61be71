"""serve/config.yaml checked with Serve's own schema model and against the deployments the app really has."""
import copy

import pytest
import yaml

from cli.deploy import CONFIG_FILE, app_deployments, check, effective_config, validate
from telco.config import Settings
from telco.errors import InvalidInput

MACHINE_CPUS = 2  # this machine; the app must start on it with every deployment at its minimum


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load(CONFIG_FILE.read_text())


@pytest.fixture(scope="module")
def deployments():
    return app_deployments()


def test_serve_config_passes_serves_schema_and_matches_the_app(config):
    validate(config)
    assert check(config) == []
    (app,) = config["applications"]
    assert app["import_path"] == "serve.app:app" and app["route_prefix"] == "/"


def test_check_finds_missing_and_unknown_deployments(config):
    broken = copy.deepcopy(config)
    deps = broken["applications"][0]["deployments"]
    deps[:] = [d for d in deps if d["name"] != "Dialogue"] + [{"name": "Dialog", "num_replicas": 1}]
    problems = check(broken)
    assert "serve config names deployment 'Dialog', which the app does not have" in problems
    assert any("'Dialogue' has no entry" in p for p in problems)


def test_schema_violations_are_reported_by_field(config):
    broken = copy.deepcopy(config)
    broken["applications"][0]["deployments"][0]["max_ongoing_requests"] = "lots"
    with pytest.raises(InvalidInput, match="max_ongoing_requests"):
        validate(broken)


def test_the_built_app_uses_the_configured_numbers(config, deployments):
    for entry in config["applications"][0]["deployments"]:
        d = deployments[entry["name"]]
        assert d.ray_actor_options["num_cpus"] == entry["ray_actor_options"]["num_cpus"]
        if "autoscaling_config" in entry:
            assert d._deployment_config.autoscaling_config.min_replicas == entry["autoscaling_config"]["min_replicas"]


def test_every_replica_takes_a_fraction_of_a_cpu_and_the_minimum_fits_this_machine(config):
    total = 0.0
    for entry in config["applications"][0]["deployments"]:
        cpus = entry["ray_actor_options"]["num_cpus"]
        assert 0 < cpus < 1, entry["name"]
        replicas = entry.get("num_replicas") or entry["autoscaling_config"]["min_replicas"]
        total += cpus * replicas
    assert total <= MACHINE_CPUS


def test_the_oss_bss_state_has_one_owner(config):
    (oss,) = [d for d in config["applications"][0]["deployments"] if d["name"] == "OssBss"]
    assert oss["num_replicas"] == 1 and "autoscaling_config" not in oss


def test_effective_config_carries_settings_and_env_but_not_secrets(monkeypatch):
    monkeypatch.setenv("TELCO_MEMORY_URI", "s3://bucket/memory")
    monkeypatch.setenv("TELCO_API_KEYS", '[{"key": "ops-secret-1", "role": "operations", "name": "ops"}]')
    settings = Settings(serve={"host": "0.0.0.0", "port": 8100})
    out = effective_config(settings)
    assert out["http_options"]["host"] == "0.0.0.0" and out["http_options"]["port"] == 8100
    env = out["applications"][0]["runtime_env"]["env_vars"]
    assert env["TELCO_MEMORY_URI"] == "s3://bucket/memory" and "TELCO_API_KEYS" not in env
    with_secrets = effective_config(settings, include_secrets=True)
    assert "TELCO_API_KEYS" in with_secrets["applications"][0]["runtime_env"]["env_vars"]
