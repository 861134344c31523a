"""`auth_signing_keys` rows: the server's RSA keys for access tokens and ID tokens (sealed at rest)."""

from __future__ import annotations

from fhir_server.auth.models import SigningKeyRecord
from fhir_server.storage.driver import Driver

__all__ = ["insert", "list_published", "retire_all_but", "reseal"]

_COLUMNS = "kid, alg, private_key, public_jwk, created_at, active, retired_at"


async def insert(db: Driver, key: SigningKeyRecord) -> None:
    await db.execute(f"INSERT INTO auth_signing_keys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                     key.kid, key.alg, key.private_key, key.public_jwk, key.created_at, key.active, key.retired_at)


async def list_published(db: Driver, *, retired_after: int) -> list[SigningKeyRecord]:
    """Active keys, and keys retired after `retired_after` (still verifying tokens they signed), newest first."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM auth_signing_keys WHERE active = $1 OR retired_at > $2 "
                          "ORDER BY created_at DESC, kid DESC", True, retired_after)
    return [SigningKeyRecord(r[0], r[1], bytes(r[2]), r[3], r[4], bool(r[5]), r[6]) for r in rows]


async def retire_all_but(db: Driver, kid: str, *, now: int) -> None:
    await db.execute("UPDATE auth_signing_keys SET active = $2, retired_at = $3 WHERE kid <> $1 AND active = $4",
                     kid, False, now, True)


async def reseal(db: Driver, kid: str, private_key: bytes) -> None:
    await db.execute("UPDATE auth_signing_keys SET private_key = $2 WHERE kid = $1", kid, private_key)
