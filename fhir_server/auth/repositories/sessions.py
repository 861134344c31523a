"""Launch contexts and authorizations in progress (the browser's way from /authorize to the code)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fhir_server.auth.models import LaunchContext, PendingAuthorization
from fhir_server.storage.driver import Driver

__all__ = ["insert_launch", "get_launch", "consume_launch", "insert_pending", "get_pending", "update_pending",
           "delete_pending"]

_LAUNCH_COLUMNS = "launch_id, patient, encounter, need_patient_banner, created_by, created_at, expires_at, used"
_PENDING_COLUMNS = ("request_id, browser_hash, csrf, params, account_id, auth_time, patient, encounter, created_at, "
                    "expires_at")
_PENDING_UPDATABLE = frozenset({"account_id", "auth_time", "patient", "encounter"})


def _launch(row: Sequence[Any] | None) -> LaunchContext | None:
    if row is None:
        return None
    launch_id, patient, encounter, banner, created_by, created_at, expires_at, used = row
    return LaunchContext(launch_id, patient, encounter, bool(banner), created_by, created_at, expires_at, bool(used))


async def insert_launch(db: Driver, launch: LaunchContext) -> None:
    await db.execute(f"INSERT INTO auth_launch_contexts ({_LAUNCH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                     launch.launch_id, launch.patient, launch.encounter, launch.need_patient_banner,
                     launch.created_by, launch.created_at, launch.expires_at, launch.used)


async def get_launch(db: Driver, launch_id: str, *, now: int) -> LaunchContext | None:
    """A launch context that is still usable (not expired, not used)."""
    return _launch(await db.fetchrow(
        f"SELECT {_LAUNCH_COLUMNS} FROM auth_launch_contexts WHERE launch_id = $1 AND expires_at > $2 AND used = $3",
        launch_id, now, False))


async def consume_launch(db: Driver, launch_id: str, *, now: int) -> LaunchContext | None:
    return _launch(await db.fetchrow(
        f"UPDATE auth_launch_contexts SET used = $3 WHERE launch_id = $1 AND expires_at > $2 AND used = $4 "
        f"RETURNING {_LAUNCH_COLUMNS}", launch_id, now, True, False))


def _pending(row: Sequence[Any] | None) -> PendingAuthorization | None:
    if row is None:
        return None
    request_id, browser_hash, csrf, params, account_id, auth_time, patient, encounter, created_at, expires_at = row
    return PendingAuthorization(request_id, browser_hash, csrf, json.loads(params), account_id, auth_time, patient,
                                encounter, created_at, expires_at)


async def insert_pending(db: Driver, pending: PendingAuthorization) -> None:
    await db.execute(f"INSERT INTO auth_pending ({_PENDING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                     pending.request_id, pending.browser_hash, pending.csrf, json.dumps(pending.params),
                     pending.account_id, pending.auth_time, pending.patient, pending.encounter, pending.created_at,
                     pending.expires_at)


async def get_pending(db: Driver, request_id: str, *, now: int) -> PendingAuthorization | None:
    return _pending(await db.fetchrow(
        f"SELECT {_PENDING_COLUMNS} FROM auth_pending WHERE request_id = $1 AND expires_at > $2", request_id, now))


async def update_pending(db: Driver, request_id: str, **fields: Any) -> None:
    unknown = set(fields) - _PENDING_UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    names = sorted(fields)
    assignments = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    await db.execute(f"UPDATE auth_pending SET {assignments} WHERE request_id = $1", request_id,
                     *(fields[n] for n in names))


async def delete_pending(db: Driver, request_id: str) -> bool:
    deleted = await db.fetchval("DELETE FROM auth_pending WHERE request_id = $1 RETURNING request_id", request_id)
    return deleted is not None
