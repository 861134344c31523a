"""Registered OAuth clients: SMART apps (public, or confidential with a secret or a key) and backend
services (private_key_jwt with a JWKS or a JWKS URL), and their authlib face (`Client`).

| registered with         | authenticates with    | may use                                       |
|-------------------------|-----------------------|-----------------------------------------------|
| --public                | none (PKCE only)      | authorization_code, refresh_token             |
| --secret-stdin          | client_secret_basic   | authorization_code, refresh_token             |
| --jwks FILE / --jwks-uri| private_key_jwt       | client_credentials (system/ scopes); also     |
|                         | (RS384, ES384)        | authorization_code and refresh_token when it  |
|                         |                       | has redirect URIs                             |
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

from fhir_server.auth.models import ClientRecord
from fhir_server.auth.passwords import Passwords
from fhir_server.auth.ports import UnitOfWork
from fhir_server.auth.repositories import clients as client_rows
from fhir_server.auth.repositories import grants as grant_rows
from fhir_server.auth.revoker import GrantRevoker
from fhir_server.auth.scopes import ClinicalScope, InvalidScope, parse_scope, scope_allowed
from fhir_server.errors import BadRequest, NotFound, VersionConflict
from fhir_server.storage.driver import ConcurrentWrite

__all__ = ["ClientService", "NewClient", "Client", "AUTH_NONE", "AUTH_SECRET", "AUTH_PRIVATE_KEY_JWT"]

AUTH_NONE = "none"
AUTH_SECRET = "client_secret_basic"
AUTH_PRIVATE_KEY_JWT = "private_key_jwt"
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$")
ASSERTION_KEY_TYPES = frozenset({"RSA", "EC"})


@dataclass(frozen=True, slots=True)
class NewClient:
    client_id: str
    scopes: str
    redirect_uris: tuple[str, ...] = ()
    public: bool = False
    secret: str | None = None
    jwks: str | None = None
    jwks_uri: str | None = None
    name: str | None = None


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or (parts.scheme in ("http", "https") and not parts.netloc):
        raise BadRequest(f"redirect URI '{uri}' must be absolute and without a fragment")


def _check_jwks(text: str) -> None:
    try:
        jwks = json.loads(text)
    except ValueError as exc:
        raise BadRequest("the JWKS is not JSON") from exc
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise BadRequest("the JWKS must be an object with a non-empty 'keys' array")
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in ASSERTION_KEY_TYPES:
            raise BadRequest("JWKS keys must be RSA or EC public keys")
        if "d" in key:
            raise BadRequest("the JWKS holds a private key: register the public keys only")


def _check_scopes(scopes: str, *, may_be_system: bool) -> None:
    if not scopes.split():
        raise BadRequest("a client needs at least one scope")
    for text in scopes.split():
        try:
            parsed = parse_scope(text)
        except InvalidScope as exc:
            raise BadRequest(exc.diagnostics) from exc
        if isinstance(parsed, ClinicalScope) and parsed.level == "system" and not may_be_system:
            raise BadRequest("system/ scopes are for backend services that authenticate with a key "
                             "(--jwks or --jwks-uri)")


def _record(new: NewClient) -> ClientRecord:
    if not CLIENT_ID.match(new.client_id):
        raise BadRequest("a client id is 1-128 letters, digits and . _ : ~ -")
    ways = [new.public, new.secret is not None, new.jwks is not None, new.jwks_uri is not None]
    if sum(ways) != 1:
        raise BadRequest("register a client with exactly one of: --public, --secret-stdin, --jwks, --jwks-uri")
    for uri in new.redirect_uris:
        _check_redirect_uri(uri)
    asymmetric = new.jwks is not None or new.jwks_uri is not None
    _check_scopes(new.scopes, may_be_system=asymmetric)
    if new.jwks is not None:
        _check_jwks(new.jwks)
    if new.jwks_uri is not None and urlsplit(new.jwks_uri).scheme not in ("https", "http"):
        raise BadRequest("the JWKS URL must be http(s)")
    if new.secret is not None and len(new.secret) < 16:
        raise BadRequest("a client secret needs at least 16 characters")
    if not asymmetric and not new.redirect_uris:
        raise BadRequest("an app that logs users in needs at least one --redirect-uri")
    grant_types: list[str] = []
    if new.redirect_uris:
        grant_types += ["authorization_code", "refresh_token"]
    if asymmetric:
        grant_types.append("client_credentials")
    method = AUTH_PRIVATE_KEY_JWT if asymmetric else AUTH_SECRET if new.secret is not None else AUTH_NONE
    return ClientRecord(client_id=new.client_id, auth_method=method, scopes=" ".join(new.scopes.split()),
                        redirect_uris=tuple(new.redirect_uris), grant_types=tuple(grant_types), name=new.name,
                        jwks=new.jwks, jwks_uri=new.jwks_uri, created_at=int(time.time()))


class ClientService:
    def __init__(self, uow: UnitOfWork, revoker: GrantRevoker, passwords: Passwords) -> None:
        self.uow = uow
        self.revoker = revoker
        self.passwords = passwords

    async def register(self, new: NewClient) -> ClientRecord:
        record = _record(new)
        if new.secret is not None:
            record = replace(record, secret_hash=await self.passwords.hash_async(new.secret))
        try:
            async with self.uow.write() as tx:
                if await client_rows.get(tx.db, record.client_id) is not None:
                    raise VersionConflict(f"there is already a client '{record.client_id}'")
                await client_rows.insert(tx.db, record)
        except ConcurrentWrite as exc:
            raise VersionConflict(f"there is already a client '{record.client_id}'") from exc
        return record

    async def get(self, client_id: str) -> ClientRecord | None:
        async with self.uow.read() as tx:
            return await client_rows.get(tx.db, client_id)

    async def list_clients(self) -> list[ClientRecord]:
        async with self.uow.read() as tx:
            return await client_rows.list_all(tx.db)

    async def remove(self, client_id: str) -> None:
        """Unregister a client and revoke everything issued to it."""
        async with self.uow.write() as tx:
            if not await client_rows.delete(tx.db, client_id):
                raise NotFound(f"no client '{client_id}'")
            grant_ids = await grant_rows.client_grants(tx.db, client_id, now=int(time.time()))
        for grant_id in grant_ids:
            await self.revoker.revoke_grant(grant_id)


class Client(ClientMixin):  # type: ignore[misc]
    """A registered client as authlib asks about it."""

    def __init__(self, record: ClientRecord, passwords: Passwords) -> None:
        self.record = record
        self.passwords = passwords
        self.client_id = record.client_id
        self._allowed = [parse_scope(s) for s in record.scopes.split()]

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # SMART apps always send redirect_uri, and it must match exactly

    def allows_scope(self, scope: str) -> bool:
        return scope_allowed(scope, self._allowed)

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes within the registration (the others are not granted); None if none is."""
        requested = (scope or "").split()
        allowed = [s for s in dict.fromkeys(requested) if self.allows_scope(s)]
        return " ".join(allowed) if allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.record.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.record.secret_hash is not None and self.passwords.verify(self.record.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.record.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.record.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.record.grant_types

    @property
    def is_public(self) -> bool:
        return self.record.auth_method == AUTH_NONE
