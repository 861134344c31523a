"""Test harness: a unit of work on the test database, an app of the SMART routes with a protected FHIR
endpoint, a browser that fills in the login/picker/consent forms, and keys and PKCE for clients."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fhir_server.api.outcomes import EXCEPTION_HANDLERS
from fhir_server.api.smart_routes import SmartRoutes
from fhir_server.auth import AuthComponents, Endpoints, NewAccount, NewClient, security_block
from fhir_server.config import Settings
from fhir_server.errors import NotFound

REDIRECT = "https://app.example.org/callback"
PASSWORD = "correct horse battery"

RESOURCES: dict[tuple[str, str], dict[str, Any]] = {
    ("Patient", "p1"): {"resourceType": "Patient", "id": "p1", "generalPractitioner": [{"reference": "Practitioner/sup1"}]},
    ("Patient", "p2"): {"resourceType": "Patient", "id": "p2"},
    ("Patient", "p3"): {"resourceType": "Patient", "id": "p3"},
    ("Observation", "o1"): {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "Hb"},
                            "subject": {"reference": "Patient/p1"},
                            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                                      "code": "laboratory"}]}]},
    ("Observation", "o3"): {"resourceType": "Observation", "id": "o3", "status": "final", "code": {"text": "Hb"},
                            "subject": {"reference": "Patient/p3"}},
    ("Practitioner", "sup1"): {"resourceType": "Practitioner", "id": "sup1"},
    ("AuditEvent", "a1"): {"resourceType": "AuditEvent", "id": "a1"},
}


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Any]:
    """The resource store (the auth server's unit of work and keyring) on the test database."""
    from fhir_server.db.engine import create_engine
    from fhir_server.storage.driver import create_pg_pool
    from fhir_server.storage.keys import open_keyring
    from fhir_server.storage.repository import ResourceStore

    engine = create_engine(settings.sqlalchemy_url, pool_size=4)
    pool = None
    try:
        keyring = await open_keyring(settings, engine)
        if not settings.is_sqlite:
            pool = await create_pg_pool(settings.driver_dsn, size=4)
        yield ResourceStore(engine, keyring, pg_pool=pool)
    finally:
        if pool is not None:
            await pool.close()
        await engine.dispose()


def build_app(auth: AuthComponents | Callable[[], AuthComponents], *, lifespan: Any = None) -> Starlette:
    """The SMART routes, `/fhir/metadata` with the security block, and reads of a few fixed resources
    enforced by the access policy (`/fhir/{type}/{id}`), and the search filter (`/fhir/{type}`).
    `auth` may be a callable returning the components (when they start in `lifespan`)."""

    def components() -> AuthComponents:
        return auth if isinstance(auth, AuthComponents) else auth()

    async def metadata(request: Request) -> Response:
        endpoints = Endpoints(f"{request.url.scheme}://{request.url.netloc}/fhir")
        statement = {"resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-23",
                     "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
                     "rest": [{"mode": "server", "security": security_block(endpoints)}]}
        return Response(orjson.dumps(statement), media_type="application/fhir+json")

    async def read(request: Request) -> Response:
        principal = await components().authenticator(request)
        res_type, res_id = request.path_params["res_type"], request.path_params["res_id"]
        components().policy.check_interaction(principal, "read", res_type)
        resource = RESOURCES.get((res_type, res_id))
        if resource is None:
            raise NotFound(f"{res_type}/{res_id} is not known")
        await components().policy.check_resource(principal, "read", resource)
        return Response(orjson.dumps(resource), media_type="application/fhir+json")

    async def search(request: Request) -> Response:
        principal = await components().authenticator(request)
        found = await components().policy.compartment_filter(principal, request.path_params["res_type"])
        body = None if found is None else [list(map(list, alternative)) for alternative in found.alternatives]
        return Response(orjson.dumps({"filter": body}), media_type="application/json")

    routes = [*SmartRoutes(auth).routes(),
              Route("/fhir/metadata", metadata, methods=["GET"]),
              Route("/fhir/{res_type}", search, methods=["GET"]),
              Route("/fhir/{res_type}/{res_id}", read, methods=["GET"])]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)  # type: ignore[arg-type]


# -- accounts and clients ------------------------------------------------------------------------

async def add_user(auth: AuthComponents, username: str, role: str, **extra: Any) -> Any:
    defaults: dict[str, Any] = {"doctor": {"fhir_user": "Practitioner/doc1"},
                                "trainee": {"fhir_user": "Practitioner/tr1", "supervisor": "Practitioner/sup1"},
                                "patient": {"fhir_user": "Patient/p1"}}.get(role, {})
    if role == "trainee" and "tenure_end" not in extra:
        import datetime as dt

        extra["tenure_end"] = dt.date.today() + dt.timedelta(days=30)
    return await auth.accounts.create(NewAccount(username=username, role=role, password=PASSWORD,
                                                 **{**defaults, **extra}))


async def add_app(auth: AuthComponents, client_id: str = "app", *, scopes: str | None = None, public: bool = True,
                  secret: str | None = None, name: str | None = "Test App") -> Any:
    scopes = scopes or ("launch launch/patient launch/encounter openid fhirUser profile offline_access online_access "
                        "patient/*.cruds user/*.cruds")
    return await auth.clients.register(NewClient(client_id=client_id, scopes=scopes, redirect_uris=(REDIRECT,),
                                                 public=public and secret is None, secret=secret, name=name))


def rsa_key(kid: str = "k1") -> tuple[RSAKey, dict[str, Any]]:
    private = RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    private = RSAKey.import_key(private.as_dict(private=True) | {"kid": kid})
    return private, {"keys": [private.as_dict(private=False) | {"kid": kid, "alg": "RS384"}]}


def ec_key(kid: str = "e1") -> tuple[ECKey, dict[str, Any]]:
    private = ECKey.import_key(ec.generate_private_key(ec.SECP384R1()))
    private = ECKey.import_key(private.as_dict(private=True) | {"kid": kid})
    return private, {"keys": [private.as_dict(private=False) | {"kid": kid, "alg": "ES384"}]}


async def add_backend(auth: AuthComponents, client_id: str = "backend", *, jwks: dict[str, Any] | None = None,
                      jwks_uri: str | None = None, scopes: str = "system/*.rs system/Observation.cruds") -> Any:
    return await auth.clients.register(NewClient(client_id=client_id, scopes=scopes,
                                                 jwks=json.dumps(jwks) if jwks is not None else None,
                                                 jwks_uri=jwks_uri))


# -- PKCE and the authorization request ------------------------------------------------------------

def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(challenge: str | None, *, scope: str = "launch/patient openid fhirUser offline_access patient/*.rs",
                     client_id: str = "app", aud: str = "http://localhost/fhir", state: str = "st4te",
                     **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": scope,
              "state": state, "aud": aud}
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "button"):
            self.inputs.append({k: v or "" for k, v in attrs})


def form_fields(html: str) -> list[dict[str, str]]:
    parser = _Forms()
    parser.feed(html)
    return parser.inputs


def hidden(html: str) -> dict[str, str]:
    return {i["name"]: i.get("value", "") for i in form_fields(html) if i.get("type") == "hidden"}


def offered_scopes(html: str) -> list[str]:
    return [i["value"] for i in form_fields(html) if i.get("type") == "checkbox" and i.get("name") == "scope"]


class Browser:
    """Walks the login, picker and consent pages like a person with a browser would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def start(self, params: dict[str, str], *, method: str = "GET") -> httpx.Response:
        if method == "GET":
            return await self.http.get(f"/auth/authorize?{urlencode(params)}")
        return await self.http.post("/auth/authorize", data=params)

    async def post(self, page: httpx.Response, **fields: str | list[str]) -> httpx.Response:
        data: dict[str, Any] = {**hidden(page.text), **fields}
        response = await self.http.post("/auth/interact", data=data)
        if response.status_code == 303:
            response = await self.http.get(f"/auth/{response.headers['location']}")
        return response

    async def login(self, page: httpx.Response, username: str, password: str = PASSWORD, otp: str = "") -> httpx.Response:
        return await self.post(page, username=username, password=password, otp=otp)

    async def consent(self, page: httpx.Response, *, untick: tuple[str, ...] = (), decision: str = "approve") -> httpx.Response:
        scopes = [s for s in offered_scopes(page.text) if s not in untick]
        return await self.post(page, scope=scopes, decision=decision)

    async def authorize(self, params: dict[str, str], username: str, *, password: str = PASSWORD, otp: str = "",
                        patient: str | None = None, encounter: str | None = None, untick: tuple[str, ...] = (),
                        method: str = "GET") -> httpx.Response:
        """The whole way from /authorize to the redirect back to the app (or wherever it stops)."""
        page = await self.start(params, method=method)
        if page.status_code != 200:
            return page
        page = await self.login(page, username, password, otp)
        if page.status_code != 200:
            return page
        if 'value="patient"' in page.text and 'name="step"' in page.text and patient is not None:
            page = await self.post(page, patient=patient, action="choose")
        if 'value="encounter"' in page.text and 'name="step"' in page.text and encounter is not None:
            page = await self.post(page, encounter=encounter)
        if page.status_code != 200 or 'value="consent"' not in page.text:
            return page
        return await self.consent(page, untick=untick)


def callback(response: httpx.Response) -> dict[str, str]:
    """The query parameters of the redirect back to the app."""
    assert response.status_code == 302, (response.status_code, response.text[:500])
    location = response.headers["location"]
    assert location.startswith(REDIRECT), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def exchange(http: httpx.AsyncClient, code: str, verifier: str | None, *, client_id: str = "app",
                   auth: tuple[str, str] | None = None, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    if auth is None:
        data["client_id"] = client_id
    return await http.post("/auth/token", data=data, auth=auth)


async def login_and_token(http: httpx.AsyncClient, username: str, *, scope: str | None = None,
                          patient: str | None = None, **extra: str) -> dict[str, Any]:
    verifier, challenge = pkce()
    params = authorize_params(challenge, **({"scope": scope} if scope else {}), **extra)
    result = callback(await Browser(http).authorize(params, username, patient=patient))
    response = await exchange(http, result["code"], verifier)
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    return token


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion(key: Any, client_id: str, audience: str, *, alg: str | None = None, lifetime: int = 240,
              jti: str | None = None, omit: tuple[str, ...] = (), **claims: Any) -> str:
    """A private_key_jwt client assertion, as a backend service makes one."""
    import time

    from joserfc import jwt as jose_jwt

    now = int(time.time())
    alg = alg or ("ES384" if isinstance(key, ECKey) else "RS384")
    payload = {"iss": client_id, "sub": client_id, "aud": audience, "exp": now + lifetime, "iat": now,
               "jti": secrets.token_urlsafe(12) if jti is None else jti, **claims}
    for name in omit:
        payload.pop(name, None)
    header = {"alg": alg, "typ": "JWT", "kid": key.kid}
    return str(jose_jwt.encode(header, payload, key, algorithms=[alg]))
