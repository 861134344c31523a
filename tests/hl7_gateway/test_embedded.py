"""`fhir-server all`: one process serves FHIR over HTTP and HL7 v2 over MLLP, on the embedded default."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hl7_gateway.mllp import MLLPClient

SAMPLES = Path(__file__).parent / "samples" / "messages"
ORU = (SAMPLES / "16_v2tofhir_IG_ORU_R01_v2.5.1_UTF8_SN_PRT.hl7").read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def embedded_server(tmp_path: Path):
    http_port, mllp_port = free_port(), free_port()
    env = {**os.environ, "FHIR_DATA_DIR": str(tmp_path / "data"), "FHIR_MLLP_PORT": str(mllp_port)}
    env.pop("FHIR_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "all", "--dev", "--port", str(http_port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", mllp_port), timeout=1):
                if httpx.get(f"{base}/health", timeout=1).json()["status"] == "ok":
                    break
        except (OSError, httpx.HTTPError, ValueError):
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"fhir-server all did not start: {process.stdout.read() if process.stdout else b''!r}")
    yield base, mllp_port
    process.terminate()
    process.wait(timeout=30)


def test_a_result_sent_over_mllp_is_readable_over_http(embedded_server):
    base, mllp_port = embedded_server

    async def send() -> bytes:
        async with await MLLPClient.connect("127.0.0.1", mllp_port) as client:
            return await client.send(ORU)

    ack = asyncio.run(send())
    assert b"MSA|CA|" in ack
    history = httpx.get(f"{base}/fhir/DiagnosticReport/_history").json()
    assert len(history["entry"]) == 1
    report = history["entry"][0]["resource"]
    assert report["resourceType"] == "DiagnosticReport" and report["subject"]["reference"].startswith("Patient/")
