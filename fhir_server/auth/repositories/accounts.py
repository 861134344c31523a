"""`auth_accounts` rows (and their password-reset tokens)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir_server.auth.models import Account
from fhir_server.storage.driver import Driver

__all__ = ["insert", "by_username", "by_id", "list_all", "record_failure", "record_success", "claim_totp_step",
           "update", "insert_reset", "reset_account", "consume_reset", "UPDATABLE"]

_COLUMNS = ("account_id, username, role, password_hash, fhir_user, supervisor, tenure_end_at, disabled, "
            "totp_secret, totp_last_step, failed_logins, locked_until, created_at, updated_at")
UPDATABLE = frozenset({"role", "password_hash", "fhir_user", "supervisor", "tenure_end_at", "disabled",
                       "totp_secret", "totp_last_step", "failed_logins", "locked_until"})


def _account(row: Sequence[Any] | None) -> Account | None:
    if row is None:
        return None
    (account_id, username, role, password_hash, fhir_user, supervisor, tenure_end_at, disabled, totp_secret,
     totp_last_step, failed_logins, locked_until, created_at, updated_at) = row
    return Account(account_id, username, role, password_hash, fhir_user, supervisor, tenure_end_at, bool(disabled),
                   bytes(totp_secret) if totp_secret is not None else None, totp_last_step, failed_logins,
                   locked_until, created_at, updated_at)


async def insert(db: Driver, account: Account) -> None:
    await db.execute(
        f"INSERT INTO auth_accounts ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        account.account_id, account.username, account.role, account.password_hash, account.fhir_user,
        account.supervisor, account.tenure_end_at, account.disabled, account.totp_secret, account.totp_last_step,
        account.failed_logins, account.locked_until, account.created_at, account.updated_at)


async def by_username(db: Driver, username: str) -> Account | None:
    return _account(await db.fetchrow(f"SELECT {_COLUMNS} FROM auth_accounts WHERE username = $1", username))


async def by_id(db: Driver, account_id: str) -> Account | None:
    return _account(await db.fetchrow(f"SELECT {_COLUMNS} FROM auth_accounts WHERE account_id = $1", account_id))


async def list_all(db: Driver) -> list[Account]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM auth_accounts ORDER BY username")
    return [a for a in (_account(r) for r in rows) if a is not None]


async def record_failure(db: Driver, account_id: str, *, max_failures: int, lock_until: int, now: int) -> int:
    """Count one failed login (atomically); lock the account once the count reaches `max_failures`."""
    count = await db.fetchval(
        "UPDATE auth_accounts SET failed_logins = failed_logins + 1, updated_at = $4, "
        "locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END "
        "WHERE account_id = $1 RETURNING failed_logins",
        account_id, max_failures, lock_until, now)
    return int(count or 0)


async def record_success(db: Driver, account_id: str, *, now: int) -> None:
    await db.execute("UPDATE auth_accounts SET failed_logins = 0, locked_until = NULL, updated_at = $2 "
                     "WHERE account_id = $1", account_id, now)


async def claim_totp_step(db: Driver, account_id: str, step: int) -> bool:
    """Record `step` as used; False when it (or a later one) already was (a replayed code)."""
    claimed = await db.fetchval(
        "UPDATE auth_accounts SET totp_last_step = $2 WHERE account_id = $1 "
        "AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING account_id", account_id, step)
    return claimed is not None


async def update(db: Driver, account_id: str, *, now: int, **fields: Any) -> bool:
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    names = sorted(fields)
    assignments = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(names))
    updated = await db.fetchval(
        f"UPDATE auth_accounts SET updated_at = $2, {assignments} WHERE account_id = $1 RETURNING account_id",
        account_id, now, *(fields[n] for n in names))
    return updated is not None


async def insert_reset(db: Driver, *, token_hash: str, account_id: str, now: int, expires_at: int) -> None:
    await db.execute("INSERT INTO auth_reset_tokens (token_hash, account_id, created_at, expires_at, used) "
                     "VALUES ($1, $2, $3, $4, $5)", token_hash, account_id, now, expires_at, False)


async def reset_account(db: Driver, token_hash: str, *, now: int) -> str | None:
    """The account a reset token is for, while it is unused and unexpired."""
    found = await db.fetchval("SELECT account_id FROM auth_reset_tokens WHERE token_hash = $1 AND used = $2 "
                              "AND expires_at > $3", token_hash, False, now)
    return None if found is None else str(found)


async def consume_reset(db: Driver, token_hash: str, *, now: int) -> str | None:
    """Use a reset token once: the account id, or None when unknown, used or expired."""
    found = await db.fetchval(
        "UPDATE auth_reset_tokens SET used = $3 WHERE token_hash = $1 AND used = $4 AND expires_at > $2 "
        "RETURNING account_id", token_hash, now, True, False)
    return None if found is None else str(found)
