"""Each code and refresh-token step the token endpoint takes, as one unit of work."""

from __future__ import annotations

import time

from fhir_server.auth.models import CodeRecord, RefreshRecord
from fhir_server.auth.ports import UnitOfWork
from fhir_server.auth.repositories import grants as grant_rows

__all__ = ["GrantStore"]


class GrantStore:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def save_code(self, record: CodeRecord) -> None:
        async with self.uow.write() as tx:
            await grant_rows.insert_code(tx.db, record)

    async def consume_code(self, code_hash: str, client_id: str) -> tuple[CodeRecord | None, str | None]:
        async with self.uow.write() as tx:
            return await grant_rows.consume_code(tx.db, code_hash, client_id=client_id, now=int(time.time()))

    async def get_refresh(self, token_hash: str) -> RefreshRecord | None:
        async with self.uow.read() as tx:
            return await grant_rows.get_refresh(tx.db, token_hash)

    async def claim_refresh(self, token_hash: str) -> bool:
        async with self.uow.write() as tx:
            return await grant_rows.claim_refresh(tx.db, token_hash)

    async def purge_expired(self) -> None:
        async with self.uow.write() as tx:
            await grant_rows.purge_expired(tx.db, now=int(time.time()))
