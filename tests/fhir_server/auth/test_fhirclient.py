"""A real SMART client library (`fhirclient`) against a real server on a random loopback port, with the
app and the patient registered through the `fhir-server` commands."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fhirclient import client as fhir_client

from fhir_server.auth import AuthComponents, AuthSettings, Choice
from fhir_server.cli.accounts import clients, users
from fhir_server.search import SearchRegistry, extract
from tests.fhir_server.auth.harness import PASSWORD, REDIRECT, build_app, hidden, offered_scopes, open_store

SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(settings) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    holder: dict[str, AuthComponents] = {}
    registry = SearchRegistry.from_definitions()

    async def pick(account: Any, query: str) -> list[Choice]:
        return [Choice("p1", "Adaeze Okafor")]

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with open_store(settings) as store:
            holder["auth"] = await AuthComponents.start(
                settings=AuthSettings(base_url=f"{base}/fhir", password_time_cost=1, password_memory_kib=64),
                uow=store, sealer=store.keyring, index_rows=lambda r: extract(registry, r), patient_picker=pick)
            try:
                yield
            finally:
                await holder["auth"].close()

    app = build_app(lambda: holder["auth"], lifespan=lifespan)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_fhirclient_standalone_launch(cli, served):
    cli(clients, "add", "--client-id", "growth-chart", "--public", "--scopes", SCOPE, "--redirect-uri", REDIRECT)
    cli(users, "add", "--username", "pat", "--role", "patient", "--password-stdin", "--fhir-user", "Patient/p1",
        input=f"{PASSWORD}\n")
    smart = fhir_client.FHIRClient(settings={"app_id": "growth-chart", "api_base": f"{served}/fhir",
                                             "redirect_uri": REDIRECT, "scope": SCOPE})
    authorize_url = smart.authorize_url
    assert authorize_url.startswith(f"{served}/auth/authorize?")
    with httpx.Client(base_url=served) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200
        page = browser.post("/auth/interact", data={**hidden(page.text), "username": "pat", "password": PASSWORD})
        assert page.status_code == 303
        page = browser.get(f"/auth/{page.headers['location']}")
        fields = {**hidden(page.text), "scope": offered_scopes(page.text), "decision": "approve"}
        back = browser.post("/auth/interact", data=fields)
    assert back.status_code == 302 and back.headers["location"].startswith(REDIRECT)
    smart.handle_callback(back.headers["location"])
    assert smart.ready and smart.patient_id == "p1"
    assert smart.server.auth.refresh_token
    patient = smart.server.request_json("Patient/p1")
    assert patient["id"] == "p1"
    with pytest.raises(Exception):  # noqa: B017 - fhirclient raises its own types for 403
        smart.server.request_json("Patient/p3")
