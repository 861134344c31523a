"""Revoking grants: the database rows (refresh tokens can no longer be used) and the in-memory
revocation set (access tokens already issued stop working at once, in every process)."""

from __future__ import annotations

import time

from fhir_server.auth.ports import UnitOfWork
from fhir_server.auth.repositories import grants as grant_rows
from fhir_server.auth.revocation import Revocations, jti_key, sid_key

__all__ = ["GrantRevoker"]


class GrantRevoker:
    def __init__(self, uow: UnitOfWork, revocations: Revocations, *, max_access_lifetime: int) -> None:
        self.uow = uow
        self.revocations = revocations
        # an access token issued under a grant lives at most this long, so its sid need not be remembered longer
        self.max_access_lifetime = max_access_lifetime

    def _until(self) -> int:
        return int(time.time()) + self.max_access_lifetime + 60

    async def revoke_grant(self, grant_id: str) -> None:
        async with self.uow.write() as tx:
            await grant_rows.revoke_grant(tx.db, grant_id)
        await self.revocations.revoke(sid_key(grant_id), until=self._until())

    async def revoke_account(self, account_id: str) -> int:
        """Every live grant of the account (disabled, password reset, role or tenure changed)."""
        async with self.uow.write() as tx:
            revoked = await grant_rows.revoke_account_grants(tx.db, account_id, now=int(time.time()))
        for grant_id, _ in revoked:
            await self.revocations.revoke(sid_key(grant_id), until=self._until())
        return len(revoked)

    async def revoke_access_token(self, jti: str, *, expires_at: int) -> None:
        await self.revocations.revoke(jti_key(jti), until=expires_at + 60)
