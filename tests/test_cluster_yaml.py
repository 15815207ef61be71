"""cluster.yaml checked the way `ray up` checks it: Ray's own JSON schema shipped in the ray package, then the
launcher's own prepare (defaults merged) and validate steps, plus the things the schema cannot know about."""
import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import ray.autoscaler
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = Path(ray.autoscaler.__file__).parent / "ray-schema.json"


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((ROOT / "cluster.yaml").read_text())


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def test_cluster_yaml_matches_rays_schema(config, validator):
    problems = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in validator.iter_errors(config)]
    assert problems == []


def test_the_schema_check_would_catch_a_mistake(config, validator):
    broken = copy.deepcopy(config)
    broken["available_node_types"]["cpu_worker"]["min_workers"] = "one"
    broken["max_wokers"] = 3
    messages = " | ".join(e.message for e in validator.iter_errors(broken))
    assert "'one' is not of type 'integer'" in messages and "max_wokers" in messages


def test_the_launcher_accepts_it(config):
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)  # raises on anything `ray up` would refuse
    assert prepared["head_node_type"] == "head"
    assert prepared["available_node_types"]["cpu_worker"]["max_workers"] <= prepared["max_workers"]


def test_nodes_run_the_projects_own_ray_and_share_the_auth_token(config):
    commands = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    ray_calls = [c for c in commands if " ray " in f" {c} " or "bin/ray " in c]
    assert ray_calls and all("~/telco-agents/.venv/bin/ray " in c for c in ray_calls)
    assert any("--head" in c and "--autoscaling-config" in c for c in config["head_start_ray_commands"])
    assert any("$RAY_HEAD_IP:6379" in c for c in config["worker_start_ray_commands"])
    assert config["file_mounts"]["/home/ubuntu/.ray/auth_token"] == "~/.ray/auth_token"
    assert any("RAY_AUTH_MODE=token" in c for c in config["setup_commands"])


def test_memory_points_at_object_storage_and_local_state_is_not_copied(config):
    assert any("TELCO_MEMORY_URI=s3://" in c for c in config["setup_commands"])
    assert any("pip install" in c and "-e ." in c for c in config["setup_commands"])
    assert {".venv", "var"} <= set(config["rsync_exclude"])
