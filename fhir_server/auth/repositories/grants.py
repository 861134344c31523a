"""Grants, authorization codes and refresh tokens: what the token endpoint issues and consumes.

Codes and refresh tokens are looked up by the SHA-256 of their value. Consuming either is one
conditional UPDATE, so two requests racing with the same code or refresh token cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir_server.auth.models import CodeRecord, GrantRecord, RefreshRecord
from fhir_server.storage.driver import Driver

__all__ = ["insert_grant", "get_grant", "extend_grant", "revoke_grant", "revoke_account_grants", "insert_code",
           "consume_code", "insert_refresh", "get_refresh", "claim_refresh", "revoke_refresh", "purge_expired",
           "client_grants"]

_CODE_COLUMNS = ("code_hash, grant_id, client_id, account_id, redirect_uri, scope, code_challenge, "
                 "code_challenge_method, auth_time, expires_at, nonce, patient, encounter, need_patient_banner, used")
_REFRESH_COLUMNS = ("token_hash, grant_id, client_id, account_id, scope, auth_time, issued_at, expires_at, patient, "
                    "encounter, need_patient_banner, revoked, rotated")


async def insert_grant(db: Driver, grant: GrantRecord) -> None:
    await db.execute("INSERT INTO auth_grants (grant_id, client_id, account_id, created_at, expires_at, revoked) "
                     "VALUES ($1, $2, $3, $4, $5, $6)", grant.grant_id, grant.client_id, grant.account_id,
                     grant.created_at, grant.expires_at, grant.revoked)


async def get_grant(db: Driver, grant_id: str) -> GrantRecord | None:
    row = await db.fetchrow("SELECT grant_id, client_id, account_id, created_at, expires_at, revoked "
                            "FROM auth_grants WHERE grant_id = $1", grant_id)
    if row is None:
        return None
    return GrantRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


async def extend_grant(db: Driver, grant_id: str, expires_at: int) -> None:
    await db.execute("UPDATE auth_grants SET expires_at = $2 WHERE grant_id = $1 AND expires_at < $2",
                     grant_id, expires_at)


async def revoke_grant(db: Driver, grant_id: str) -> None:
    """The grant and every refresh token issued under it."""
    await db.execute("UPDATE auth_grants SET revoked = $2 WHERE grant_id = $1", grant_id, True)
    await db.execute("UPDATE auth_refresh_tokens SET revoked = $2 WHERE grant_id = $1", grant_id, True)


async def revoke_account_grants(db: Driver, account_id: str, *, now: int) -> list[tuple[str, int]]:
    """Revoke every live grant of an account; returns (grant id, expiry) of each."""
    rows = await db.fetch("SELECT grant_id, expires_at FROM auth_grants WHERE account_id = $1 AND revoked = $2 "
                          "AND expires_at > $3", account_id, False, now)
    for grant_id, _ in rows:
        await revoke_grant(db, grant_id)
    return [(r[0], r[1]) for r in rows]


def _code(row: Sequence[Any] | None) -> CodeRecord | None:
    if row is None:
        return None
    values = list(row)
    values[13], values[14] = bool(values[13]), bool(values[14])
    return CodeRecord(*values)


async def insert_code(db: Driver, code: CodeRecord) -> None:
    await db.execute(
        f"INSERT INTO auth_codes ({_CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15)", code.code_hash, code.grant_id, code.client_id, code.account_id, code.redirect_uri, code.scope,
        code.code_challenge, code.code_challenge_method, code.auth_time, code.expires_at, code.nonce, code.patient,
        code.encounter, code.need_patient_banner, code.used)


async def consume_code(db: Driver, code_hash: str, *, client_id: str, now: int) -> tuple[CodeRecord | None, str | None]:
    """Use a client's code once: (the code, None); (None, grant id) when it was used before (a replay,
    whose grant the caller revokes); (None, None) when it is unknown, another client's, or expired."""
    row = await db.fetchrow(f"UPDATE auth_codes SET used = $4 WHERE code_hash = $1 AND client_id = $2 AND used = $5 "
                            f"AND expires_at > $3 RETURNING {_CODE_COLUMNS}", code_hash, client_id, now, True, False)
    if row is not None:
        return _code(row), None
    replayed = await db.fetchval("SELECT grant_id FROM auth_codes WHERE code_hash = $1 AND client_id = $2 "
                                 "AND used = $3", code_hash, client_id, True)
    return None, replayed


def _refresh(row: Sequence[Any] | None) -> RefreshRecord | None:
    if row is None:
        return None
    values = list(row)
    values[10], values[11], values[12] = bool(values[10]), bool(values[11]), bool(values[12])
    return RefreshRecord(*values)


async def insert_refresh(db: Driver, token: RefreshRecord) -> None:
    await db.execute(
        f"INSERT INTO auth_refresh_tokens ({_REFRESH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
        "$12, $13)", token.token_hash, token.grant_id, token.client_id, token.account_id, token.scope,
        token.auth_time, token.issued_at, token.expires_at, token.patient, token.encounter,
        token.need_patient_banner, token.revoked, token.rotated)


async def get_refresh(db: Driver, token_hash: str) -> RefreshRecord | None:
    return _refresh(await db.fetchrow(f"SELECT {_REFRESH_COLUMNS} FROM auth_refresh_tokens WHERE token_hash = $1",
                                      token_hash))


async def claim_refresh(db: Driver, token_hash: str) -> bool:
    """Retire a refresh token being exchanged for a new one; False if another request already did."""
    claimed = await db.fetchval("UPDATE auth_refresh_tokens SET revoked = $2, rotated = $2 "
                                "WHERE token_hash = $1 AND revoked = $3 RETURNING token_hash", token_hash, True, False)
    return claimed is not None


async def revoke_refresh(db: Driver, token_hash: str) -> None:
    await db.execute("UPDATE auth_refresh_tokens SET revoked = $2 WHERE token_hash = $1", token_hash, True)


async def purge_expired(db: Driver, *, now: int, keep_seconds: int = 86400) -> None:
    """Drop what expired more than `keep_seconds` ago (kept a while so replays are still recognised)."""
    before = now - keep_seconds
    for table in ("auth_codes", "auth_refresh_tokens", "auth_grants", "auth_pending", "auth_launch_contexts",
                  "auth_reset_tokens"):
        await db.execute(f"DELETE FROM {table} WHERE expires_at < $1", before)


async def client_grants(db: Driver, client_id: str, *, now: int) -> list[str]:
    rows = await db.fetch("SELECT grant_id FROM auth_grants WHERE client_id = $1 AND revoked = $2 AND expires_at > $3",
                          client_id, False, now)
    return [r[0] for r in rows]
