"""Choosing the keyring from the settings, and re-encrypting every stored body to the active key."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from fhir_server.config import Settings
from fhir_server.db.engine import SQLITE_WRITE
from fhir_server.db.tables import resource_versions, resources
from fhir_server.storage.crypto import EncryptionError, FileKeyring, Keyring, associated_data

__all__ = ["open_keyring", "verify_keyring", "RotationReport", "reencrypt_all"]

log = logging.getLogger("fhir_server.keys")


async def _stored_bodies(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(resource_versions))).scalar_one()


async def open_keyring(settings: Settings, engine: AsyncEngine) -> Keyring:
    """The environment's key if set; else the keyring file, created on first start of an empty store."""
    if settings.encryption_key:
        return Keyring.from_environment(settings.encryption_key, settings.encryption_old_keys)
    path = settings.key_file
    if path.exists():
        return FileKeyring(path)
    if settings.encryption_key_file is not None:
        raise EncryptionError(f"FHIR_ENCRYPTION_KEY_FILE names {path}, which does not exist")
    if await _stored_bodies(engine):
        raise EncryptionError(
            f"the keyring file {path} is missing but the database holds encrypted resources: restore the "
            "keyring (or set FHIR_ENCRYPTION_KEY); a new key could not read them")
    try:
        keyring = FileKeyring.create(path)
    except FileExistsError:  # another process of this server, starting at the same time, made it first
        return FileKeyring(path)
    log.warning("created a new encryption keyring at %s; back it up: without it the data cannot be read", path)
    return keyring


async def verify_keyring(engine: AsyncEngine, keyring: Keyring) -> None:
    """Open the newest stored body, so a wrong or missing key fails at start, not on some later read."""
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(resource_versions.c.res_type, resource_versions.c.res_id, resource_versions.c.version_id,
                   resource_versions.c.body)
            .where(resource_versions.c.body.is_not(None))
            .order_by(resource_versions.c.pk.desc()).limit(1)
        )).first()
    if row is not None:
        keyring.open(row.body, associated_data(row.res_type, row.res_id, row.version_id))


@dataclass
class RotationReport:
    active_key_id: str
    reencrypted: int
    passes: int


async def reencrypt_all(engine: AsyncEngine, keyring: Keyring, *, batch_size: int = 500) -> RotationReport:
    """Re-seal every body not sealed with the active key, in small transactions, while the server runs.

    Passes repeat until one finds nothing left, so bodies written meanwhile by servers that still
    used the old key are caught too. Each row is re-sealed only if unchanged since it was read.
    """
    total = 0
    passes = 0
    dialect_options = SQLITE_WRITE if engine.dialect.name == "sqlite" else {}
    while True:
        passes += 1
        changed_this_pass = 0
        for table in (resources, resource_versions):
            last_pk = 0
            while True:
                async with engine.connect() as conn:
                    if dialect_options:
                        await conn.execution_options(**dialect_options)
                    async with conn.begin():
                        rows = (await conn.execute(
                            select(table.c.pk, table.c.res_type, table.c.res_id, table.c.version_id, table.c.body)
                            .where(table.c.pk > last_pk).order_by(table.c.pk).limit(batch_size)
                        )).all()
                        for row in rows:
                            if row.body is None or keyring.sealed_with_active(row.body):
                                continue
                            aad = associated_data(row.res_type, row.res_id, row.version_id)
                            resealed = keyring.seal(keyring.open(row.body, aad), aad)
                            result = await conn.execute(
                                update(table).where(table.c.pk == row.pk, table.c.version_id == row.version_id,
                                                    table.c.body == row.body).values(body=resealed))
                            changed_this_pass += result.rowcount
                if not rows:
                    break
                last_pk = rows[-1].pk
        total += changed_this_pass
        if changed_this_pass == 0:
            return RotationReport(keyring.active_key_id, total, passes)
