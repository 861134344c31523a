"""The `fhir-server` command over real processes and sockets (embedded SQLite default)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fhir_server.db.migrate import head_revision

CLI = [sys.executable, "-m", "fhir_server.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FHIR_DATA_DIR": str(data_dir)}
    env.pop("FHIR_DATABASE_URL", None)
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def start_server(tmp_path: Path, *args: str):
    port = free_port()
    env = {**os.environ, "FHIR_DATA_DIR": str(tmp_path / "data")}
    env.pop("FHIR_DATABASE_URL", None)
    process = subprocess.Popen([*CLI, "serve", *args, "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).json()["status"] == "ok":
                break
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"server did not start: {process.stdout.read() if process.stdout else ''}")
    return base, process


@pytest.fixture
def server(tmp_path: Path):
    base, process = start_server(tmp_path, "--dev")
    yield base, tmp_path / "data", process
    process.terminate()
    process.wait(timeout=20)


def test_serve_dev_answers_over_a_real_socket(server):
    base, data_dir, _ = server
    created = httpx.post(f"{base}/fhir/Patient", json={"resourceType": "Patient", "gender": "female"},
                         headers={"content-type": "application/fhir+json"})
    assert created.status_code == 201
    read = httpx.get(created.headers["location"].rsplit("/_history", 1)[0])
    assert read.json()["gender"] == "female"
    metadata = httpx.get(f"{base}/fhir/metadata").json()
    assert metadata["resourceType"] == "CapabilityStatement" and metadata["fhirVersion"] == "4.0.1"
    assert (data_dir / "fhir.db").exists()
    assert oct((data_dir / "keyring.json").stat().st_mode & 0o777) == "0o600"


def test_dev_mode_refuses_non_loopback(tmp_path: Path):
    result = run_cli("serve", "--dev", "--host", "0.0.0.0", data_dir=tmp_path)
    assert result.returncode != 0
    assert "only binds to loopback" in result.stderr


def test_without_dev_mode_every_request_needs_a_token(tmp_path: Path):
    base, process = start_server(tmp_path)
    try:
        refused = httpx.get(f"{base}/fhir/Patient")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        written = httpx.post(f"{base}/fhir/Patient", json={"resourceType": "Patient"},
                             headers={"content-type": "application/fhir+json"})
        assert written.status_code == 401
        metadata = httpx.get(f"{base}/fhir/metadata").json()
        assert metadata["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_migrate_and_key_rotation(tmp_path: Path):
    data_dir = tmp_path / "data"
    migrated = run_cli("migrate", data_dir=data_dir)
    assert migrated.returncode == 0, migrated.stderr
    assert f"schema revision {head_revision()}" in migrated.stdout
    assert re.search(r"terminology content: [\d,]+ resources loaded", migrated.stdout), migrated.stdout
    again = run_cli("migrate", data_dir=data_dir)
    assert again.returncode == 0, again.stderr
    assert "terminology content: up to date" in again.stdout
    rotated = run_cli("keys", "rotate", "--retire-old", data_dir=data_dir)
    # no keyring yet and no data: the first rotation creates the keyring, then rotates it
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 0 bodies" in rotated.stdout
    generated = run_cli("keys", "generate", data_dir=data_dir)
    assert generated.returncode == 0 and len(generated.stdout.strip()) == 44
