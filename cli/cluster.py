"""`telco up` and `telco down`: a local Ray head, the Serve application, memory loaded, and a clean stop.

`up` connects to RAY_ADDRESS (or --address), or to a head already started with `ray start` on this machine, or
else starts one itself. A head it starts runs as `ray start --head --block` in its own session, and its process
id is recorded, so `down` stops exactly that head (by id) and nothing else that happens to run Ray here. Token
authentication is on for a head `up` starts (Ray 2.60's default for local clusters); `up` prints what the Ray
CLIs need to talk to it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from telco.config import Settings, get_settings

APP_NAME = "telco"
DEFAULT_APP = "serve.app:build_app"
GCS_PORT = 6379


def project_root() -> Path:
    """The folder that holds the project's packages (this checkout, or site-packages when installed)."""
    import telco

    return Path(telco.__path__[0]).resolve().parent


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "telco-agents"


def state_file() -> Path:
    return state_dir() / "up.json"


def _ray_bin() -> str:
    here = Path(sys.executable).with_name("ray")
    return str(here) if here.exists() else "ray"


# ---- Ray ---------------------------------------------------------------------------------------------------
def running_head_address() -> str | None:
    """The address of a head started with `ray start` on this machine that is still alive, else None.

    Only `ray start` records its address (in /tmp/ray/ray_current_cluster); short-lived clusters that tests start
    with ray.init() do not, so `up` never attaches the app to one of those.
    """
    from ray._private.services import find_gcs_addresses
    from ray._private.utils import read_ray_address

    recorded = read_ray_address()
    # Ray caches a non-empty answer for the life of the process: while another Ray ran on this machine, the head
    # `up` had just started was never seen and `up` waited out its whole timeout.
    find_gcs_addresses.cache_clear()
    if recorded and recorded in find_gcs_addresses():
        return recorded
    return None


def _have_token() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").exists())


def use_token_auth() -> None:
    """Talk to the cluster with token auth when a token is at hand (a head `up` starts always has it on), unless
    RAY_AUTH_MODE says otherwise. Ray reads RAY_AUTH_MODE into a cached config, so when ray is already imported
    the cache is refreshed the same way Ray does it itself."""
    if "RAY_AUTH_MODE" in os.environ or not _have_token():
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    if "ray._raylet" in sys.modules:
        from ray._raylet import Config

        Config.initialize("")


def _ensure_auth_token() -> None:
    if not _have_token():
        subprocess.run([_ray_bin(), "get-auth-token", "--generate"], check=True, capture_output=True)


def start_head(dashboard_port: int, timeout_s: float = 90.0, port: int = GCS_PORT) -> dict[str, Any]:
    _ensure_auth_token()
    state_dir().mkdir(parents=True, exist_ok=True)
    log_path = state_dir() / "ray-head.log"
    env = dict(os.environ)
    env["RAY_AUTH_MODE"] = "token"
    # On SIGTERM a head first waits for its node to drain (up to 30 s), which never happens here: `down` has shut
    # Serve down already, and the memory writers, detached actors, keep the node busy until it is stopped.
    env.setdefault("RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S", "0")
    # Replicas import actors/, serve/, memory/ and telco/ from this checkout even when it is not pip-installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project_root()), env.get("PYTHONPATH", "")) if p)
    # The dashboard is not forced on (--include-dashboard=true): forced, a dashboard slower than Ray's fixed 60 s to
    # come up (its nine module processes on a loaded 2-core machine) fails the whole head, twice in a row.
    cmd = [_ray_bin(), "start", "--head", "--block", f"--port={port}",
           "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}", "--disable-usage-stats"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`ray start --head` exited with code {proc.returncode}; see {log_path}:\n"
                               + _tail(log_path))
        address = running_head_address()
        if address and address.rsplit(":", 1)[-1] == str(port):  # ours, not one recorded by another `ray start`
            return {"pid": proc.pid, "address": address, "log": str(log_path)}
        time.sleep(0.5)
    _terminate(proc.pid, grace_s=10)
    raise RuntimeError(f"the Ray head did not come up within {timeout_s:.0f} s; see {log_path}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid: int, grace_s: float = 30.0) -> None:
    """SIGTERM the one process we started (the blocking `ray start`, which stops its own Ray processes)."""
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)  # reap it when it is our child (tests, same process)
            if finished == pid:
                return
        except ChildProcessError:
            pass
        if not _alive(pid):
            return
        time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)


# ---- state of what `up` started -------------------------------------------------------------------------------
def read_state() -> dict[str, Any] | None:
    try:
        return json.loads(state_file().read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as err:
        print(f"ignoring unreadable {state_file()}: {err}", file=sys.stderr)
        return None


def write_state(state: dict[str, Any]) -> None:
    state_dir().mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(state, indent=2))


def clear_state() -> None:
    state_file().unlink(missing_ok=True)


# ---- the app -------------------------------------------------------------------------------------------------
def load_application(import_path: str):
    """`module:attr` naming a Serve Application or a function returning one (Serve's own convention)."""
    from ray._common.utils import import_attr
    from ray.serve.deployment import Application

    target = import_attr(import_path)
    app = target if isinstance(target, Application) else target()
    if not isinstance(app, Application):
        raise TypeError(f"{import_path} gave {type(app).__name__}, not a Serve Application")
    return app


def bootstrap_memory(settings: Settings) -> str:
    # CALL SITE: memory/bootstrap.py (lead) loads the KB, playbooks, intent examples and the demo world into
    # memory. Until it exists, `up` says so and serves whatever memory already holds.
    try:
        from memory.bootstrap import memory_bootstrap
    except ModuleNotFoundError as err:
        if err.name not in ("memory.bootstrap", "memory"):
            raise
        return "skipped: memory/bootstrap.py is not there yet"
    result = memory_bootstrap(settings)
    return f"loaded into {settings.memory_uri}" + (f" ({result})" if result else "")


def wait_ready(url: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {"status": "no answer yet"}
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/readyz", timeout=5)
            last = r.json()
            if r.status_code == 200:
                return last
        except (httpx.HTTPError, ValueError) as err:
            last = {"status": f"{type(err).__name__}: {err}"}
        time.sleep(1.0)
    raise RuntimeError(f"{url}/readyz did not report ready within {timeout_s:.0f} s; last answer: {last}")


def telco_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("TELCO_")}


def export_settings_env() -> None:
    """Make this process's TELCO_* settings travel to the replicas as environment variables.

    Replicas run with another working directory: a .env here and a relative memory path would mean something
    else (or nothing) there. So .env entries join the environment and the memory path becomes absolute.
    """
    from dotenv import dotenv_values

    for name, value in dotenv_values(".env").items():
        if name.startswith("TELCO_") and value is not None:
            os.environ.setdefault(name, value)
    uri = os.environ.get("TELCO_MEMORY_URI", Settings.model_fields["memory_uri"].default)
    if "://" not in uri:
        os.environ["TELCO_MEMORY_URI"] = str(Path(uri).resolve())
    if os.environ.get("TELCO_API_KEYS_FILE"):
        os.environ["TELCO_API_KEYS_FILE"] = str(Path(os.environ["TELCO_API_KEYS_FILE"]).resolve())
    get_settings.cache_clear()


def describe(settings: Settings, dashboard: str | None) -> str:
    url = settings.serve.url
    lines = [f"telco-agents is up (mode: {settings.mode})",
             f"  API         {url}",
             f"  API docs    {url}/docs"]
    if dashboard:
        lines.append(f"  dashboard   {dashboard}   (sign in with the token from `ray get-auth-token`)")
    lines.append("  Ray CLIs    export RAY_AUTH_MODE=token   # for ray status / ray job submit / serve status")
    if settings.using_dev_keys:
        lines.append("  API keys (development only; refused when TELCO_ENV=production):")
        for k in settings.api_keys:
            bound = f"  customer {k.customer_id}" if k.customer_id else ""
            lines.append(f"    {k.role:<11} {k.key.get_secret_value()}{bound}")
    else:
        lines.append("  API keys    " + ", ".join(f"{k.name} ({k.role})" for k in settings.api_keys))
    lines += ["  talk to it  telco chat", "  stop it     telco down"]
    return "\n".join(lines)


# ---- commands ------------------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    import ray
    from ray import serve

    export_settings_env()
    settings = get_settings()
    started: dict[str, Any] | None = None
    started_earlier: dict[str, Any] | None = None
    address = args.address or os.environ.get("RAY_ADDRESS") or running_head_address()
    previous = read_state() or {}
    if address:
        print(f"using the Ray cluster at {address}")
        if previous.get("started_head") and previous.get("address") == address:
            started_earlier = {k: previous[k] for k in ("pid", "log") if k in previous}  # still ours to stop
    else:
        print("starting a local Ray head (ray start --head) ...")
        # A loaded machine can take well over a minute to bring a head up: the same patience as for the app. Ray
        # gives a raylet 30 s to register with its GCS (fixed in ray/_private/node.py), so one retry.
        patience = max(90.0, args.timeout / 2)
        try:
            started = start_head(args.dashboard_port, timeout_s=patience, port=args.port)
        except RuntimeError as err:
            print(f"the Ray head did not start ({str(err).splitlines()[0]}); trying once more", file=sys.stderr)
            started = start_head(args.dashboard_port, timeout_s=patience, port=args.port)
        address = started["address"]
        write_state({"started_head": True, **started, "serve_url": settings.serve.url})
    try:
        use_token_auth()
        # The job's env reaches the replicas, so TELCO_* set here also configure a cluster `up` did not start.
        context = ray.init(address=address, log_to_driver=False,
                           runtime_env={"env_vars": telco_env()} if telco_env() else None)
        print(f"memory: {bootstrap_memory(settings)}")
        serve.start(http_options={"host": settings.serve.host, "port": settings.serve.port})
        print(f"deploying {args.app} ...")
        serve.run(load_application(args.app), name=APP_NAME, route_prefix="/")
        wait_ready(settings.serve.url, args.timeout)
        dashboard = getattr(context, "dashboard_url", None)
        if dashboard and "://" not in dashboard:
            dashboard = f"http://{dashboard}"
        ours = started or started_earlier
        write_state({"started_head": bool(ours), **(ours or {}), "address": address,
                     "serve_url": settings.serve.url, "dashboard": dashboard or previous.get("dashboard")})
    except BaseException:
        if started:  # leave nothing half-started behind
            print("start-up failed; stopping the Ray head it started", file=sys.stderr)
            _terminate(started["pid"])
            clear_state()
        raise
    finally:
        if ray.is_initialized():
            ray.shutdown()
    print(describe(settings, dashboard))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    import ray
    from ray import serve

    state = read_state() or {}
    address = args.address or os.environ.get("RAY_ADDRESS") or state.get("address") or running_head_address()
    if not address:
        print("nothing to stop: no Ray head recorded by `telco up` and none running from `ray start`")
        return 0
    try:
        use_token_auth()
        ray.init(address=address, log_to_driver=False)
        serve.shutdown()
        print("Serve applications shut down")
    except ConnectionError as err:
        print(f"could not reach Ray at {address} ({err}); no Serve application to shut down")
    finally:
        if ray.is_initialized():
            ray.shutdown()
    if state.get("started_head") and state.get("address") == address:
        _terminate(int(state["pid"]))
        print(f"stopped the Ray head that `telco up` started (pid {state['pid']})")
    else:
        print(f"left the Ray cluster at {address} running (`telco up` did not start it)")
    clear_state()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    export_settings_env()
    settings = get_settings()
    state = read_state() or {}
    try:
        r = httpx.get(f"{settings.serve.url}/readyz", timeout=5)
        ready = r.json()
    except (httpx.HTTPError, ValueError) as err:
        print(f"telco-agents is not answering at {settings.serve.url} ({type(err).__name__}); start it with telco up")
        return 1
    if ready.get("status") != "ready":
        print(f"telco-agents at {settings.serve.url} is not ready: {ready.get('checks')}")
        return 1
    print(describe(settings, state.get("dashboard")))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="start Ray (if needed) and the Serve app, load memory, wait until ready")
    up.add_argument("--address", help="Ray cluster to use (default: RAY_ADDRESS, a running `ray start` head, "
                                      "else start one)")
    up.add_argument("--app", default=DEFAULT_APP, help=f"Serve application import path (default {DEFAULT_APP})")
    up.add_argument("--dashboard-port", type=int, default=8265)
    up.add_argument("--port", type=int, default=GCS_PORT, help=f"the port of a head `up` starts (default {GCS_PORT})")
    up.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for /readyz")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="shut the Serve app down and stop the Ray head `telco up` started")
    down.add_argument("--address", help="Ray cluster to shut Serve down on (default: the one `telco up` used)")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="is the app up and ready; its URLs and keys")
    status.set_defaults(func=cmd_status)
