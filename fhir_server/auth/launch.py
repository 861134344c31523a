"""EHR launch contexts: the EHR (or anything acting for it) creates one before it opens an app with
`?iss=<FHIR base>&launch=<id>`; the app passes `launch=<id>` to /authorize and the token response then
carries the patient and encounter in context (https://hl7.org/fhir/smart-app-launch/app-launch.html).

A context is single-use and short-lived; one created by a user can only be used by that user.
"""

from __future__ import annotations

import secrets
import time

from fhir_server.auth.models import LaunchContext
from fhir_server.auth.ports import UnitOfWork
from fhir_server.auth.repositories import sessions as session_rows
from fhir_server.errors import BadRequest

__all__ = ["LaunchContexts"]

ID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def _check_id(value: str | None, what: str) -> None:
    if value is not None and (not value or len(value) > 64 or not set(value) <= ID):
        raise BadRequest(f"'{value}' is not a valid {what} id")


class LaunchContexts:
    def __init__(self, uow: UnitOfWork, *, lifetime: int) -> None:
        self.uow = uow
        self.lifetime = lifetime

    async def create(self, *, patient: str | None = None, encounter: str | None = None,
                     need_patient_banner: bool = False, created_by: str | None = None) -> LaunchContext:
        """A new launch context; `patient` and `encounter` are ids (not references)."""
        for value, what in ((patient, "Patient"), (encounter, "Encounter")):
            _check_id(value, what)
        now = int(time.time())
        launch = LaunchContext(secrets.token_urlsafe(24), patient, encounter, need_patient_banner, created_by, now,
                               now + self.lifetime)
        async with self.uow.write() as tx:
            await session_rows.insert_launch(tx.db, launch)
        return launch

    async def get(self, launch_id: str) -> LaunchContext | None:
        async with self.uow.read() as tx:
            return await session_rows.get_launch(tx.db, launch_id, now=int(time.time()))

    async def consume(self, launch_id: str) -> LaunchContext | None:
        async with self.uow.write() as tx:
            return await session_rows.consume_launch(tx.db, launch_id, now=int(time.time()))
