"""HTTP routes of the SMART on FHIR authorization server: discovery, the OAuth endpoints, the login and
consent pages, EHR launch contexts and the admin API. Handlers only translate HTTP to `fhir_server.auth`
and back.

    GET  /fhir/.well-known/smart-configuration     GET  /fhir/.well-known/openid-configuration
    GET  /auth/jwks   GET /auth/smart-style.json   GET  /auth/userinfo
    GET|POST /auth/authorize   GET|POST /auth/interact   POST /auth/token   POST /auth/introspect
    POST /auth/revoke          POST /auth/launch          GET|POST /auth/password-reset
    /auth/admin/users[/{username}[/disable|/enable|/totp|/password-reset|/tenure]]
    /auth/admin/clients[/{client_id}]   /auth/admin/keys[/rotate]
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from fhir_server.auth import AuthComponents, Endpoints, NewAccount, NewClient, audit
from fhir_server.auth.authorization import COOKIE, Outcome, Page, Redirect, Refusal
from fhir_server.auth.discovery import openid_configuration, smart_configuration, smart_style
from fhir_server.auth.oauth import SmartRequest, run_in_thread
from fhir_server.auth.pages import render
from fhir_server.auth.passwords import MIN_PASSWORD_LENGTH
from fhir_server.auth.roles import Role
from fhir_server.context import Principal
from fhir_server.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge

__all__ = ["SmartRoutes"]

MAX_FORM_BYTES = 64 * 1024
FORM = "application/x-www-form-urlencoded"
CORS = {"access-control-allow-origin": "*"}
PREFLIGHT = {**CORS, "access-control-allow-methods": "GET, POST, OPTIONS",
             "access-control-allow-headers": "authorization, content-type", "access-control-max-age": "600"}
PAGE_HEADERS = {"cache-control": "no-store", "pragma": "no-cache", "x-frame-options": "DENY",
                "referrer-policy": "no-referrer", "x-content-type-options": "nosniff",
                "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"}
RESET_COOKIE = "fhir_reset_csrf"

Provider = Callable[[], AuthComponents]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class SmartRoutes:
    """`auth` is the started AuthComponents, or a callable returning them (they start in the lifespan,
    after the routes are built)."""

    def __init__(self, auth: AuthComponents | Provider, *, base_url: str = "") -> None:
        self._auth = auth
        self.base_url = base_url.rstrip("/")

    @property
    def auth(self) -> AuthComponents:
        return self._auth if isinstance(self._auth, AuthComponents) else self._auth()

    def routes(self) -> list[Route]:
        admin = self._admin
        return [
            Route("/fhir/.well-known/smart-configuration", self.smart_configuration, methods=["GET"]),
            Route("/fhir/.well-known/openid-configuration", self.openid_configuration, methods=["GET"]),
            Route("/auth/jwks", self.jwks, methods=["GET"]),
            Route("/auth/smart-style.json", self.style, methods=["GET"]),
            Route("/auth/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/auth/interact", self.interact, methods=["GET", "POST"]),
            Route("/auth/token", self.token, methods=["POST", "OPTIONS"]),
            Route("/auth/introspect", self.introspect, methods=["POST", "OPTIONS"]),
            Route("/auth/revoke", self.revoke, methods=["POST", "OPTIONS"]),
            Route("/auth/userinfo", self.userinfo, methods=["GET", "OPTIONS"]),
            Route("/auth/launch", self.launch, methods=["POST"]),
            Route("/auth/password-reset", self.password_reset, methods=["GET", "POST"]),
            Route("/auth/admin/users", admin(self.users), methods=["GET", "POST"]),
            Route("/auth/admin/users/{username}", admin(self.user), methods=["GET"]),
            Route("/auth/admin/users/{username}/{action}", admin(self.user_action), methods=["POST"]),
            Route("/auth/admin/clients", admin(self.clients), methods=["GET", "POST"]),
            Route("/auth/admin/clients/{client_id}", admin(self.client), methods=["GET", "DELETE"]),
            Route("/auth/admin/keys", admin(self.keys), methods=["GET"]),
            Route("/auth/admin/keys/rotate", admin(self.rotate_keys), methods=["POST"]),
        ]

    # -- plumbing ------------------------------------------------------------------------------

    def endpoints(self, request: Request) -> Endpoints:
        return Endpoints(self.base_url or f"{request.url.scheme}://{request.url.netloc}/fhir")

    @staticmethod
    async def _form(request: Request) -> list[tuple[str, str]]:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
            raise BadRequest(f"the body must be {FORM}")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise PayloadTooLarge("the form is too large")
        try:
            return parse_qsl(body.decode(), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest("the form is not valid") from exc

    async def _oauth_form(self, request: Request) -> list[tuple[str, str]] | Response:
        try:
            return await self._form(request)
        except (BadRequest, PayloadTooLarge) as exc:
            return _json({"error": "invalid_request", "error_description": exc.diagnostics}, 400,
                         {**CORS, "cache-control": "no-store", "pragma": "no-cache"})

    def _oauth_request(self, request: Request, path: str, form: list[tuple[str, str]]) -> SmartRequest | Response:
        try:
            return SmartRequest("POST", self.endpoints(request), path, request.headers, form=form)
        except InsecureTransportError:
            return _json({"error": "insecure_transport", "error_description": "OAuth 2 requires https."}, 400, CORS)

    @staticmethod
    def _oauth_response(result: tuple[int, Any, list[tuple[str, str]]]) -> Response:
        status, body, headers = result
        out = {k.lower(): v for k, v in headers}
        out.update(CORS)
        out.setdefault("cache-control", "no-store")
        out.setdefault("pragma", "no-cache")
        if status in (301, 302, 303):
            return Response(status_code=status, headers=out)
        out.pop("content-type", None)
        return _json(body, status, out)

    def _outcome(self, outcome: Outcome, request: Request) -> Response:
        if isinstance(outcome, Redirect):
            response: Response = RedirectResponse(outcome.location, status_code=outcome.status,
                                                  headers={"cache-control": "no-store"})
        elif isinstance(outcome, Refusal):
            response = self._page("error.html", {"error": outcome.error, "description": outcome.description},
                                  outcome.status)
        else:
            response = self._page(outcome.template, outcome.context, outcome.status)
        cookie = outcome.cookie if isinstance(outcome, Page | Redirect) else None
        if cookie is not None:
            response.set_cookie(COOKIE, cookie, max_age=self.auth.settings.pending_lifetime, path="/auth",
                                httponly=True, samesite="lax", secure=request.url.scheme == "https")
        return response

    def _page(self, template: str, context: dict[str, Any], status: int = 200) -> Response:
        context = {"server_name": self.auth.settings.server_name, "error": None, **context}
        return HTMLResponse(render(template, **context), status_code=status, headers=PAGE_HEADERS)

    async def _principal(self, request: Request) -> Principal:
        return await self.auth.authenticator(request)

    def _admin(self, handler: Callable[[Request, Principal], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            principal = await self._principal(request)
            if principal.role != Role.ADMIN and not principal.unrestricted:
                raise Forbidden("the admin API is for administrators")
            return await handler(request, principal)

        return guarded

    @staticmethod
    async def _json_body(request: Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest("the body must be a JSON object") from exc
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    @staticmethod
    def _client_address(request: Request) -> str | None:
        return request.client.host if request.client else None

    # -- discovery -----------------------------------------------------------------------------

    async def smart_configuration(self, request: Request) -> Response:
        return _json(smart_configuration(self.endpoints(request)), headers=CORS)

    async def openid_configuration(self, request: Request) -> Response:
        return _json(openid_configuration(self.endpoints(request)), headers=CORS)

    async def jwks(self, request: Request) -> Response:
        return _json(self.auth.keys.jwks(), headers={**CORS, "cache-control": "public, max-age=300"})

    async def style(self, request: Request) -> Response:
        return _json(smart_style(), headers={**CORS, "cache-control": "public, max-age=3600"})

    # -- the browser flow ----------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            params = list(request.query_params.multi_items())
        else:
            try:
                params = await self._form(request)
            except (BadRequest, PayloadTooLarge) as exc:
                return self._page("error.html", {"error": "invalid_request", "description": exc.diagnostics}, 400)
        outcome = await self.auth.flow.start(self.endpoints(request), request.method, params, request.headers,
                                             request.cookies.get(COOKIE))
        return self._outcome(outcome, request)

    async def interact(self, request: Request) -> Response:
        browser = request.cookies.get(COOKIE)
        if request.method == "GET":
            outcome = await self.auth.flow.show(request.query_params.get("request", ""), browser)
            return self._outcome(outcome, request)
        try:
            pairs = await self._form(request)
        except (BadRequest, PayloadTooLarge) as exc:
            return self._page("error.html", {"error": "invalid_request", "description": exc.diagnostics}, 400)
        form: dict[str, str] = {}
        for key, value in pairs:
            form[key] = f"{form[key]} {value}" if key == "scope" and key in form else form.get(key, value)
        outcome = await self.auth.flow.submit(form, browser, self.endpoints(request), request.headers,
                                              self._client_address(request))
        return self._outcome(outcome, request)

    # -- token, introspection, revocation ------------------------------------------------------

    async def token(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        form = await self._oauth_form(request)
        if isinstance(form, Response):
            return form
        oauth = self._oauth_request(request, "token", form)
        if isinstance(oauth, Response):
            return oauth
        result = await run_in_thread(self.auth.server.token_response, oauth)
        claims = oauth.issued.get("claims")
        grant_type = oauth.form.get("grant_type", "")
        if result[0] == 200 and claims is not None:
            event = audit.token_event(grant_type=grant_type, success=True, claims=claims,
                                      network_address=self._client_address(request),
                                      server_name=self.auth.settings.server_name)
        else:
            client = oauth.client.get_client_id() if oauth.client is not None else oauth.form.get("client_id")
            event = audit.token_event(grant_type=grant_type, success=False, client_id=client,
                                      reason=str(result[1].get("error", "refused")) if isinstance(result[1], dict) else None,
                                      network_address=self._client_address(request),
                                      server_name=self.auth.settings.server_name)
        await self.auth.audit_sink(event)
        return self._oauth_response(result)

    async def introspect(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        form = await self._oauth_form(request)
        if isinstance(form, Response):
            return form
        oauth = self._oauth_request(request, "introspect", form)
        if isinstance(oauth, Response):
            return oauth
        return self._oauth_response(await run_in_thread(self.auth.server.endpoint_response, "introspection", oauth))

    async def revoke(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        form = await self._oauth_form(request)
        if isinstance(form, Response):
            return form
        oauth = self._oauth_request(request, "revoke", form)
        if isinstance(oauth, Response):
            return oauth
        result = await run_in_thread(self.auth.server.endpoint_response, "revocation", oauth)
        revoked = oauth.issued.get("revoked")
        if revoked is not None:
            kind = "refresh token" if hasattr(revoked, "record") else "access token"
            await self.auth.audit_sink(audit.revocation_event(
                client_id=oauth.client.get_client_id() if oauth.client else None, token_kind=kind,
                network_address=self._client_address(request), server_name=self.auth.settings.server_name))
        return self._oauth_response(result)

    async def userinfo(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        claims = await self.auth.authenticator.claims(request)
        if claims is None:
            return _json({"error": "invalid_token"}, 401, {**CORS, "www-authenticate": 'Bearer realm="fhir"'})
        if "openid" not in claims.scope.split():
            return _json({"error": "insufficient_scope"}, 403, CORS)
        info: dict[str, Any] = {"sub": claims.subject}
        if claims.fhir_user and "fhirUser" in claims.scope.split():
            info["fhirUser"] = f"{self.endpoints(request).fhir_base}/{claims.fhir_user}"
        return _json(info, headers={**CORS, "cache-control": "no-store"})

    # -- EHR launch ----------------------------------------------------------------------------

    async def launch(self, request: Request) -> Response:
        """Create a launch context: {"patient": id, "encounter": id, "need_patient_banner": bool}."""
        principal = await self._principal(request)
        if principal.role not in (Role.DOCTOR, Role.TRAINEE, Role.SYSTEM) and not principal.unrestricted:
            raise Forbidden("only clinicians and EHR backends create launch contexts")
        body = await self._json_body(request)
        patient, encounter = body.get("patient"), body.get("encounter")
        if patient is not None:
            await self.auth.policy.check_patient_access(principal, str(patient))
        created_by = principal.subject if principal.role in (Role.DOCTOR, Role.TRAINEE) else None
        launch = await self.auth.launches.create(
            patient=None if patient is None else str(patient), encounter=None if encounter is None else str(encounter),
            need_patient_banner=bool(body.get("need_patient_banner", False)), created_by=created_by)
        return _json({"launch": launch.launch_id, "expires_in": launch.expires_at - launch.created_at,
                      "iss": self.endpoints(request).fhir_base}, 201)

    # -- password reset ------------------------------------------------------------------------

    async def password_reset(self, request: Request) -> Response:
        accounts = self.auth.accounts
        context: dict[str, Any] = {"min_length": MIN_PASSWORD_LENGTH, "done": False, "error": None}
        if request.method == "GET":
            token = request.query_params.get("token", "")
            csrf = secrets.token_urlsafe(24)
            response = self._page("password_reset.html", {**context, "token": token, "csrf": csrf,
                                                          "valid": await accounts.reset_token_valid(token)})
            response.set_cookie(RESET_COOKIE, csrf, max_age=3600, path="/auth", httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
            return response
        form = dict(await self._form(request))
        token, csrf = form.get("token", ""), request.cookies.get(RESET_COOKIE, "")
        context.update(token=token, csrf=csrf, valid=True)
        if not csrf or not secrets.compare_digest(csrf, form.get("csrf", "")):
            return self._page("error.html", {"error": "invalid_request",
                                             "description": "The form has expired: open the reset link again."}, 400)
        if form.get("password", "") != form.get("confirm", ""):
            return self._page("password_reset.html", {**context, "error": "The two passwords differ."}, 400)
        try:
            await accounts.reset_password(token, form.get("password", ""))
        except BadRequest as exc:
            valid = await accounts.reset_token_valid(token)
            return self._page("password_reset.html", {**context, "valid": valid, "error": exc.diagnostics}, 400)
        return self._page("password_reset.html", {**context, "done": True})

    # -- admin API -----------------------------------------------------------------------------

    async def users(self, request: Request, principal: Principal) -> Response:
        accounts = self.auth.accounts
        if request.method == "GET":
            return _json([a.public() for a in await accounts.list_accounts()])
        body = await self._json_body(request)
        tenure = body.get("tenure_end")
        try:
            new = NewAccount(username=str(body.get("username", "")), role=str(body.get("role", "")),
                             password=str(body.get("password", "")), fhir_user=body.get("fhir_user"),
                             supervisor=body.get("supervisor"),
                             tenure_end=dt.date.fromisoformat(tenure) if tenure else None)
        except ValueError as exc:
            raise BadRequest("tenure_end must be YYYY-MM-DD") from exc
        account = await accounts.create(new)
        return _json(account.public(), 201)

    async def user(self, request: Request, principal: Principal) -> Response:
        return _json((await self.auth.accounts.get(request.path_params["username"])).public())

    async def user_action(self, request: Request, principal: Principal) -> Response:
        accounts = self.auth.accounts
        username, action = request.path_params["username"], request.path_params["action"]
        if action in ("disable", "enable"):
            return _json((await accounts.set_disabled(username, action == "disable")).public())
        if action == "totp":
            enrolment = await accounts.enroll_totp(username)
            return _json({"secret": enrolment.secret, "provisioning_uri": enrolment.provisioning_uri})
        if action == "password-reset":
            token, expires_at = await accounts.create_reset_token(username)
            url = f"{self.endpoints(request).url('password-reset')}?token={token}"
            return _json({"reset_url": url, "expires_at": expires_at})
        if action == "tenure":
            body = await self._json_body(request)
            try:
                day = dt.date.fromisoformat(str(body.get("tenure_end", "")))
            except ValueError as exc:
                raise BadRequest("tenure_end must be YYYY-MM-DD") from exc
            return _json((await accounts.set_tenure_end(username, day)).public())
        raise BadRequest(f"unknown action '{action}'")

    async def clients(self, request: Request, principal: Principal) -> Response:
        clients = self.auth.clients
        if request.method == "GET":
            return _json([c.public() for c in await clients.list_clients()])
        body = await self._json_body(request)
        jwks = body.get("jwks")
        new = NewClient(client_id=str(body.get("client_id", "")), scopes=str(body.get("scopes", "")),
                        redirect_uris=tuple(str(u) for u in body.get("redirect_uris", [])),
                        public=bool(body.get("public", False)), secret=body.get("secret"),
                        jwks=orjson.dumps(jwks).decode() if isinstance(jwks, dict) else jwks,
                        jwks_uri=body.get("jwks_uri"), name=body.get("name"))
        return _json((await clients.register(new)).public(), 201)

    async def client(self, request: Request, principal: Principal) -> Response:
        clients = self.auth.clients
        client_id = request.path_params["client_id"]
        if request.method == "DELETE":
            await clients.remove(client_id)
            return Response(status_code=204)
        record = await clients.get(client_id)
        if record is None:
            raise NotFound(f"no client '{client_id}'")
        return _json(record.public())

    async def keys(self, request: Request, principal: Principal) -> Response:
        return _json(self.auth.keys.jwks())

    async def rotate_keys(self, request: Request, principal: Principal) -> Response:
        kid = await self.auth.keys.rotate()
        return _json({"active_kid": kid, **self.auth.keys.jwks()})
