"""With Redis, several server processes share revocations at once and refuse replayed assertions."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import pytest

from fhir_server.auth import AuthComponents
from fhir_server.search import SearchRegistry, extract
from tests.fhir_server.auth.conftest import REDIS_URL
from tests.fhir_server.auth.harness import ASSERTION_TYPE, add_backend, assertion, build_app, rsa_key

AUD = "http://localhost/fhir"


@pytest.fixture
async def redis_settings(auth_settings):
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no Redis here
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()
    # a long poll interval: only Redis can carry the revocation in time
    return dataclasses.replace(auth_settings, redis_url=REDIS_URL, revocation_poll_seconds=3600)


@pytest.fixture
async def two_processes(store, redis_settings):
    registry = SearchRegistry.from_definitions()
    started = [await AuthComponents.start(settings=redis_settings, uow=store, sealer=store.keyring,
                                          index_rows=lambda r: extract(registry, r)) for _ in range(2)]
    await asyncio.sleep(0.2)  # let both subscribe
    try:
        yield started
    finally:
        for components in started:
            await components.close()


async def until(condition, seconds=3.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_a_revocation_reaches_the_other_process_at_once(two_processes):
    first, second = two_processes
    token, claims = first.tokens.issue(issuer=AUD, audience=AUD, subject="u1", role="doctor", scope="user/*.rs",
                                       client_id="app", sid="grant-1", lifetime=60)
    assert second.tokens.verify(token, audience=AUD).subject == "u1"
    await first.revoker.revoke_access_token(claims.jti, expires_at=claims.expires_at)

    def refused():
        try:
            second.tokens.verify(token, audience=AUD)
        except Exception:  # noqa: BLE001
            return True
        return False

    assert await until(refused)


async def test_a_jti_used_on_one_process_is_refused_on_the_other(two_processes):
    first, second = two_processes
    private, jwks = rsa_key()
    await add_backend(first, "backend", jwks=jwks)
    reused = assertion(private, "backend", "http://localhost/auth/token")
    for components, expected in ((first, 200), (second, 400)):
        transport = httpx.ASGITransport(app=build_app(components))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            response = await client.post("/auth/token", data={
                "grant_type": "client_credentials", "scope": "system/*.rs", "client_assertion": reused,
                "client_assertion_type": ASSERTION_TYPE})
            assert response.status_code == expected, response.text
