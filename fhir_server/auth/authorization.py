"""The browser's way through an authorization request, framework-free: the HTTP layer passes in what it
read and turns the outcome (a page, a redirect, a refusal) into a response.

    GET|POST /auth/authorize?...   start()   the request is checked (authlib + SMART); a pending
                                             authorization is stored; the login page is shown
    GET  /auth/interact?request=   show()    the current step's page
    POST /auth/interact            submit()  login -> [patient] -> [encounter] -> consent -> code

Steps: *login* (username, password, one-time code when enrolled); *patient* (standalone launch with
`launch/patient`, for users who are not themselves the patient: choices from the injected
`PatientPicker`, trainees only their supervisor's patients); *encounter* (standalone
`launch/encounter`, from the injected `EncounterPicker`); *consent* (the scopes, each of which the
user may untick). Every form carries the pending authorization's CSRF token, and the browser must
hold the cookie the authorization started with.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InsecureTransportError

from fhir_server.auth import audit
from fhir_server.auth.accounts import AccountService, LoginOutcome
from fhir_server.auth.clients import Client
from fhir_server.auth.models import Account, PendingAuthorization
from fhir_server.auth.oauth.pkce import RejectedRequest
from fhir_server.auth.oauth.requests import Decision, Endpoints, SmartRequest
from fhir_server.auth.oauth.server import SmartAuthorizationServer, run_in_thread
from fhir_server.auth.policy import AccessPolicy
from fhir_server.auth.ports import AuditSink, Choice, EncounterPicker, PatientPicker, UnitOfWork
from fhir_server.auth.repositories import sessions as session_rows
from fhir_server.auth.roles import Role, grantable_scopes
from fhir_server.auth.scope_text import describe
from fhir_server.auth.settings import AuthSettings
from fhir_server.context import Principal

__all__ = ["AuthorizationFlow", "Page", "Redirect", "Refusal", "Outcome", "COOKIE"]

COOKIE = "fhir_authz"
CONTEXT_ONLY = frozenset({"launch", "launch/patient", "launch/encounter"})


@dataclass(frozen=True, slots=True)
class Page:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    cookie: str | None = None  # set this browser cookie value


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str
    status: int = 302
    cookie: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    error: str
    description: str
    status: int = 400


Outcome = Page | Redirect | Refusal


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _error_redirect(params: Mapping[str, str], error: str, description: str) -> Redirect:
    query = [("error", error), ("error_description", description)]
    if params.get("state"):
        query.append(("state", params["state"]))
    return Redirect(add_params_to_uri(params["redirect_uri"], query))


class AuthorizationFlow:
    def __init__(self, *, server: SmartAuthorizationServer, accounts: AccountService, uow: UnitOfWork,
                 policy: AccessPolicy, settings: AuthSettings, audit_sink: AuditSink,
                 patient_picker: PatientPicker | None = None, encounter_picker: EncounterPicker | None = None) -> None:
        self.server = server
        self.accounts = accounts
        self.uow = uow
        self.policy = policy
        self.settings = settings
        self.audit_sink = audit_sink
        self.patient_picker = patient_picker
        self.encounter_picker = encounter_picker

    # -- start ---------------------------------------------------------------------------------

    async def start(self, endpoints: Endpoints, method: str, params: Sequence[tuple[str, str]],
                    headers: Mapping[str, str], browser: str | None) -> Outcome:
        try:
            request = SmartRequest(method, endpoints, "authorize", headers,
                                   query=params if method == "GET" else (), form=params if method != "GET" else ())
        except InsecureTransportError:
            return Refusal("insecure_transport", "OAuth 2 requires https.")
        try:
            await run_in_thread(self.server.check_authorization, request)
        except RejectedRequest as error:
            return Refusal(error.error, error.description)
        except OAuth2Error as error:
            if error.redirect_uri:
                status, _, headers_out = error()
                return Redirect(dict(headers_out)["Location"], status)
            return Refusal(error.error or "invalid_request", error.description or "The request is not valid.")
        browser = browser or secrets.token_urlsafe(24)
        now = int(time.time())
        pending = PendingAuthorization(secrets.token_urlsafe(24), _hash(browser), secrets.token_urlsafe(24),
                                       dict(request.payload.data), created_at=now,
                                       expires_at=now + self.settings.pending_lifetime)
        async with self.uow.write() as tx:
            await session_rows.insert_pending(tx.db, pending)
        return self._login_page(pending, request.client, cookie=browser)

    # -- show and submit -----------------------------------------------------------------------

    async def _pending(self, request_id: str, browser: str | None, csrf: str | None = None) -> PendingAuthorization:
        async with self.uow.read() as tx:
            pending = await session_rows.get_pending(tx.db, request_id, now=int(time.time()))
        if pending is None or browser is None or not hmac.compare_digest(pending.browser_hash, _hash(browser)):
            raise _Expired()
        if csrf is not None and not hmac.compare_digest(pending.csrf, csrf):
            raise _Expired()
        return pending

    async def show(self, request_id: str, browser: str | None) -> Outcome:
        try:
            pending = await self._pending(request_id, browser)
        except _Expired:
            return _expired()
        return await self._step_page(pending)

    async def submit(self, form: Mapping[str, str], browser: str | None, endpoints: Endpoints,
                     headers: Mapping[str, str], network_address: str | None = None) -> Outcome:
        try:
            pending = await self._pending(form.get("request", ""), browser, form.get("csrf", ""))
        except _Expired:
            return _expired()
        step = form.get("step", "")
        if step != await self._step(pending):
            return await self._step_page(pending)
        if step == "login":
            return await self._login(pending, form, network_address)
        if step == "patient":
            return await self._choose_patient(pending, form)
        if step == "encounter":
            return await self._choose_encounter(pending, form)
        return await self._consent(pending, form, endpoints, headers)

    # -- steps ---------------------------------------------------------------------------------

    async def _account(self, pending: PendingAuthorization) -> Account | None:
        return await self.accounts.by_id(pending.account_id) if pending.account_id else None

    async def _step(self, pending: PendingAuthorization) -> str:
        account = await self._account(pending)
        if account is None:
            return "login"
        requested = pending.params.get("scope", "").split()
        standalone = "launch" not in pending.params
        if standalone and "launch/patient" in requested and account.role != Role.PATIENT and pending.patient is None:
            return "patient"
        if standalone and "launch/encounter" in requested and self.encounter_picker is not None \
                and pending.encounter is None and (pending.patient or account.patient_id):
            return "encounter"
        return "consent"

    async def _step_page(self, pending: PendingAuthorization, **extra: Any) -> Outcome:
        client = await self._client(pending)
        if client is None:
            return Refusal("invalid_client", "The client is no longer registered.")
        step = await self._step(pending)
        if step == "login":
            return self._login_page(pending, client, **extra)
        account = await self._account(pending)
        assert account is not None
        base = self._context(pending, client, account)
        if step == "patient":
            query = str(extra.pop("query", ""))
            choices = await self._patients(account, query)
            return Page("patient.html", {**base, "step": "patient", "query": query, "choices": choices, **extra})
        if step == "encounter":
            patient = pending.patient or account.patient_id or ""
            choices = list(await self.encounter_picker(account, patient)) if self.encounter_picker else []
            return Page("encounter.html", {**base, "step": "encounter", "choices": choices, **extra})
        scopes = self._offered(pending, client, account)
        return Page("consent.html", {**base, "step": "consent", "patient": pending.patient or account.patient_id,
                                     "encounter": pending.encounter,
                                     "scopes": [(s, describe(s)) for s in scopes if s not in CONTEXT_ONLY],
                                     "context_scopes": [s for s in scopes if s in CONTEXT_ONLY], **extra})

    def _context(self, pending: PendingAuthorization, client: Client, account: Account | None) -> dict[str, Any]:
        return {"request_id": pending.request_id, "csrf": pending.csrf,
                "client_name": client.record.name or client.record.client_id,
                "username": account.username if account else None, "server_name": self.settings.server_name}

    def _login_page(self, pending: PendingAuthorization, client: Client, *, cookie: str | None = None,
                    error: str | None = None) -> Page:
        return Page("login.html", {**self._context(pending, client, None), "step": "login", "error": error},
                    cookie=cookie)

    async def _client(self, pending: PendingAuthorization) -> Client | None:
        record = await self.server.clients.get(pending.params.get("client_id", ""))
        return None if record is None or record.disabled else Client(record, self.server.clients.passwords)

    async def _login(self, pending: PendingAuthorization, form: Mapping[str, str],
                     network_address: str | None) -> Outcome:
        username = form.get("username", "").strip()
        result = await self.accounts.authenticate(username, form.get("password", ""), form.get("otp", ""))
        client_id = pending.params.get("client_id", "")
        account = result.account
        await self.audit_sink(audit.login_event(
            username=username, account=account, client_id=client_id, success=result.outcome == LoginOutcome.OK,
            reason=None if result.outcome == LoginOutcome.OK else result.outcome.value,
            network_address=network_address, server_name=self.settings.server_name))
        if result.outcome in (LoginOutcome.DISABLED, LoginOutcome.TENURE_OVER):
            await self._forget(pending)
            reason = ("The account is disabled." if result.outcome == LoginOutcome.DISABLED
                      else "The user's tenure has ended.")
            return _error_redirect(pending.params, "access_denied", reason)
        if result.outcome != LoginOutcome.OK or account is None:
            message = ("Too many failed attempts: try again later." if result.outcome == LoginOutcome.LOCKED
                       else "Invalid username, password or one-time code.")
            return await self._step_page(pending, error=message)
        async with self.uow.write() as tx:
            await session_rows.update_pending(tx.db, pending.request_id, account_id=account.account_id,
                                              auth_time=int(time.time()))
        return Redirect(f"interact?request={pending.request_id}", status=303)

    async def _patients(self, account: Account, query: str) -> list[Choice]:
        if self.patient_picker is None:
            return []
        choices = list(await self.patient_picker(account, query))
        visible = await self.policy.visible_patients(_principal(account))
        return [c for c in choices if visible is None or c.id in visible]

    async def _choose_patient(self, pending: PendingAuthorization, form: Mapping[str, str]) -> Outcome:
        account = await self._account(pending)
        assert account is not None
        query = form.get("query", "")
        if form.get("action") == "search":
            return await self._step_page(pending, query=query)
        chosen = form.get("patient", "")
        if chosen not in {c.id for c in await self._patients(account, query)}:
            return await self._step_page(pending, query=query, error="Choose one of the patients listed.")
        async with self.uow.write() as tx:
            await session_rows.update_pending(tx.db, pending.request_id, patient=chosen)
        return Redirect(f"interact?request={pending.request_id}", status=303)

    async def _choose_encounter(self, pending: PendingAuthorization, form: Mapping[str, str]) -> Outcome:
        account = await self._account(pending)
        assert account is not None and self.encounter_picker is not None
        patient = pending.patient or account.patient_id or ""
        chosen = form.get("encounter", "")
        choices = {c.id for c in await self.encounter_picker(account, patient)}
        if chosen != "none" and chosen not in choices:
            return await self._step_page(pending, error="Choose one of the encounters listed.")
        async with self.uow.write() as tx:
            await session_rows.update_pending(tx.db, pending.request_id, encounter=chosen)
        return Redirect(f"interact?request={pending.request_id}", status=303)

    def _offered(self, pending: PendingAuthorization, client: Client, account: Account) -> list[str]:
        allowed = (client.get_allowed_scope(pending.params.get("scope")) or "").split()
        offered = grantable_scopes(account.role, allowed)
        if "launch" not in pending.params:
            offered = [s for s in offered if s != "launch"]
        return offered

    async def _consent(self, pending: PendingAuthorization, form: Mapping[str, str], endpoints: Endpoints,
                       headers: Mapping[str, str]) -> Outcome:
        account = await self._account(pending)
        client = await self._client(pending)
        assert account is not None
        if client is None:
            return Refusal("invalid_client", "The client is no longer registered.")
        if form.get("decision") != "approve":
            await self._forget(pending)
            return _error_redirect(pending.params, "access_denied", "The user did not approve the request.")
        offered = self._offered(pending, client, account)
        ticked = set(form.get("scope", "").split())
        scope = [s for s in offered if s in CONTEXT_ONLY or s in ticked]
        patient, encounter, banner = pending.patient, pending.encounter, True
        if encounter == "none":
            encounter = None
        launch_id = pending.params.get("launch")
        if launch_id is not None:
            launch = await self.server.launches.consume(launch_id)
            if launch is None or (launch.created_by is not None and launch.created_by != account.account_id):
                await self._forget(pending)
                return _error_redirect(pending.params, "access_denied", "The launch context is not for this user.")
            patient, encounter, banner = launch.patient, launch.encounter, launch.need_patient_banner
        if account.role == Role.PATIENT:
            patient = account.patient_id
            if encounter is not None and launch_id is None:
                encounter = encounter if "launch/encounter" in scope else None
        if patient is not None and account.role == Role.TRAINEE:
            visible = await self.policy.visible_patients(_principal(account))
            if visible is not None and patient not in visible:
                await self._forget(pending)
                return _error_redirect(pending.params, "access_denied",
                                       "The patient is not one of the supervisor's patients.")
        if "launch/patient" not in scope and "launch" not in scope and account.role != Role.PATIENT:
            patient, encounter = None, None
        decision = Decision(account, " ".join(scope), pending.auth_time or int(time.time()), patient, encounter,
                            banner if patient else False)
        request = SmartRequest("GET", endpoints, "authorize", headers, query=list(pending.params.items()))
        request.decision = decision
        status, _, headers_out = await run_in_thread(self.server.authorization_response, request)
        await self._forget(pending)
        location = dict(headers_out).get("Location")
        if location is None:
            return Refusal("invalid_request", "The authorization request is no longer valid.", status)
        return Redirect(location, status)

    async def _forget(self, pending: PendingAuthorization) -> None:
        async with self.uow.write() as tx:
            await session_rows.delete_pending(tx.db, pending.request_id)


class _Expired(Exception):
    pass


def _expired() -> Refusal:
    return Refusal("invalid_request", "This sign-in page has expired or was opened in another browser: "
                                      "start again from the app.")


def _principal(account: Account) -> Principal:
    return Principal(subject=account.account_id, role=account.role, fhir_user=account.fhir_user,
                     patient=account.patient_id)
