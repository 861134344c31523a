"""Composition of the authorization server: everything built from AuthSettings and the injected
collaborators, started in the app's lifespan (or by a CLI command) and closed with it.

    auth = await AuthComponents.start(settings=AuthSettings.from_settings(settings), uow=runtime.store,
                                      sealer=runtime.keyring, index_rows=build_indexer(), ...)
    authenticate = auth.authenticator            # the app's authenticate(request) -> Principal
    policy = auth.policy                          # check_interaction / compartment_filter / check_resource
    ...
    await auth.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.auth.accounts import AccountService
from fhir_server.auth.authorization import AuthorizationFlow
from fhir_server.auth.clients import ClientService
from fhir_server.auth.keys import SigningKeys
from fhir_server.auth.launch import LaunchContexts
from fhir_server.auth.linkage import TraineeLinks
from fhir_server.auth.oauth.assertions import JwksFetcher
from fhir_server.auth.oauth.issuance import TokenIssuer
from fhir_server.auth.oauth.server import SmartAuthorizationServer
from fhir_server.auth.oauth.store import GrantStore
from fhir_server.auth.policy import AccessPolicy, IndexRowsOf
from fhir_server.auth.ports import (
    AuditSink,
    EncounterPicker,
    PatientPicker,
    Sealer,
    SupervisedPatients,
    UnitOfWork,
)
from fhir_server.auth.replay import InProcessReplayGuard, RedisReplayGuard, ReplayGuard
from fhir_server.auth.revocation import RevocationList, Revocations
from fhir_server.auth.revoker import GrantRevoker
from fhir_server.auth.settings import AuthSettings
from fhir_server.auth.tokens import AccessTokens, BearerAuthenticator
from fhir_server.context import Principal

__all__ = ["AuthComponents", "discard_audit"]


async def discard_audit(event: dict[str, Any]) -> None:
    """The audit sink until one is wired: events are dropped."""


async def _no_supervised_patients(practitioner: str) -> frozenset[str]:
    return frozenset()


@dataclass
class AuthComponents:
    settings: AuthSettings
    keys: SigningKeys
    revocations: Revocations
    replay: ReplayGuard
    tokens: AccessTokens
    revoker: GrantRevoker
    accounts: AccountService
    clients: ClientService
    launches: LaunchContexts
    codes: GrantStore
    server: SmartAuthorizationServer
    policy: AccessPolicy
    links: TraineeLinks
    flow: AuthorizationFlow
    authenticator: BearerAuthenticator
    audit_sink: AuditSink
    redis: Any = None
    owns_redis: bool = False

    @classmethod
    async def start(cls, *, settings: AuthSettings, uow: UnitOfWork, sealer: Sealer, index_rows: IndexRowsOf,
                    supervised_patients: SupervisedPatients | None = None, patient_picker: PatientPicker | None = None,
                    encounter_picker: EncounterPicker | None = None, audit_sink: AuditSink | None = None,
                    dev_principal: Principal | None = None, jwks_fetcher: JwksFetcher | None = None,
                    redis: Any = None) -> AuthComponents:
        """Build and start everything (load or create the signing key, follow Redis revocations)."""
        owns_redis = redis is None and bool(settings.redis_url)
        if owns_redis:
            import redis.asyncio as redis_asyncio

            redis = redis_asyncio.from_url(settings.redis_url)
        revocations: Revocations = RevocationList(uow, redis=redis, poll_seconds=settings.revocation_poll_seconds)
        replay: ReplayGuard = RedisReplayGuard(redis) if redis is not None else InProcessReplayGuard()
        keys = SigningKeys(uow, sealer, retired_window=2 * max(settings.access_token_lifetime, 86400))
        await keys.load()
        await revocations.start()
        tokens = AccessTokens(keys, revocations)
        revoker = GrantRevoker(uow, revocations, max_access_lifetime=settings.access_token_lifetime)
        accounts = AccountService(uow, sealer, revoker, settings)
        clients = ClientService(uow, revoker, accounts.passwords)
        launches = LaunchContexts(uow, lifetime=settings.launch_lifetime)
        codes = GrantStore(uow)
        server = SmartAuthorizationServer(
            settings=settings, clients=clients, accounts=accounts, launches=launches, codes=codes,
            issuer=TokenIssuer(uow, tokens, settings), tokens=tokens, keys=keys, revoker=revoker, replay=replay,
            jwks_fetcher=jwks_fetcher)

        async def supervisor_of(subject: str) -> str | None:
            account = await accounts.by_id(subject)
            return account.supervisor if account is not None else None

        links = TraineeLinks(supervised_patients or _no_supervised_patients, supervisor_of,
                             cache_seconds=settings.linkage_cache_seconds)
        policy = AccessPolicy(index_rows=index_rows, linked_patients=links)
        sink = audit_sink or discard_audit
        flow = AuthorizationFlow(server=server, accounts=accounts, uow=uow, policy=policy, settings=settings,
                                 audit_sink=sink, patient_picker=patient_picker, encounter_picker=encounter_picker)
        authenticator = BearerAuthenticator(tokens, base_url=settings.base_url, dev_principal=dev_principal)
        return cls(settings, keys, revocations, replay, tokens, revoker, accounts, clients, launches, codes, server,
                   policy, links, flow, authenticator, sink, redis, owns_redis)

    async def purge_expired(self) -> None:
        """Drop expired codes, refresh tokens, grants, launch contexts, sign-ins in progress and
        revocations (a periodic job: an hourly `auth.purge` job kind is enough)."""
        await self.codes.purge_expired()
        if isinstance(self.revocations, RevocationList):
            await self.revocations.purge()

    async def reseal_secrets(self) -> tuple[int, int]:
        """Seal the signing keys and TOTP secrets again with the keyring's active key: run after
        `fhir-server keys rotate`, before `--retire-old` drops the old key. Returns (keys, secrets)."""
        return await self.keys.reseal(), await self.accounts.reseal_totp_secrets()

    async def close(self) -> None:
        await self.revocations.close()
        if self.owns_redis:
            await self.redis.aclose()
