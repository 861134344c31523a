"""`auth_clients` rows: the registered SMART apps and backend services."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fhir_server.auth.models import ClientRecord
from fhir_server.storage.driver import Driver

__all__ = ["insert", "get", "list_all", "delete"]

_COLUMNS = ("client_id, auth_method, scopes, redirect_uris, grant_types, name, secret_hash, jwks, jwks_uri, "
            "disabled, created_at")


def _client(row: Sequence[Any] | None) -> ClientRecord | None:
    if row is None:
        return None
    (client_id, auth_method, scopes, redirect_uris, grant_types, name, secret_hash, jwks, jwks_uri, disabled,
     created_at) = row
    return ClientRecord(client_id, auth_method, scopes, tuple(json.loads(redirect_uris)),
                        tuple(json.loads(grant_types)), name, secret_hash, jwks, jwks_uri, bool(disabled), created_at)


async def insert(db: Driver, client: ClientRecord) -> None:
    await db.execute(
        f"INSERT INTO auth_clients ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        client.client_id, client.auth_method, client.scopes, json.dumps(list(client.redirect_uris)),
        json.dumps(list(client.grant_types)), client.name, client.secret_hash, client.jwks, client.jwks_uri,
        client.disabled, client.created_at)


async def get(db: Driver, client_id: str) -> ClientRecord | None:
    return _client(await db.fetchrow(f"SELECT {_COLUMNS} FROM auth_clients WHERE client_id = $1", client_id))


async def list_all(db: Driver) -> list[ClientRecord]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM auth_clients ORDER BY client_id")
    return [c for c in (_client(r) for r in rows) if c is not None]


async def delete(db: Driver, client_id: str) -> bool:
    deleted = await db.fetchval("DELETE FROM auth_clients WHERE client_id = $1 RETURNING client_id", client_id)
    return deleted is not None
