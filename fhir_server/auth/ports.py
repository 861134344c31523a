"""What the authorization server needs from the rest of the server, as small protocols and callables.

The composition root wires them: `ResourceStore` is a `UnitOfWork`, the keyring a `Sealer`; the
pickers, the supervisor's patients and the audit sink are built on the service layer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from fhir_server.auth.models import Account
from fhir_server.storage.repository import Tx

__all__ = ["UnitOfWork", "Sealer", "Choice", "PatientPicker", "EncounterPicker", "SupervisedPatients", "AuditSink"]


class UnitOfWork(Protocol):
    """`ResourceStore`: `write()` commits when the block ends, `read()` sees one snapshot."""

    def write(self) -> AbstractAsyncContextManager[Tx]: ...

    def read(self) -> AbstractAsyncContextManager[Tx]: ...


class Sealer(Protocol):
    """The keyring: AES-256-GCM with associated data, as the resource bodies are sealed."""

    def seal(self, plaintext: bytes, aad: bytes) -> bytes: ...

    def open(self, blob: bytes, aad: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Choice:
    """One patient or encounter a user can pick: its id and what the page shows."""

    id: str
    display: str


# the patients a user may pick at a standalone launch (`launch/patient`); `query` is what they typed
PatientPicker = Callable[[Account, str], Awaitable[Sequence[Choice]]]
# the encounters of a patient to pick from (`launch/encounter`)
EncounterPicker = Callable[[Account, str], Awaitable[Sequence[Choice]]]
# the ids of the patients linked to a supervising Practitioner ("Practitioner/123")
SupervisedPatients = Callable[[str], Awaitable[frozenset[str]]]
# where AuditEvent dicts go (the service layer stores them as AuditEvent resources)
AuditSink = Callable[[dict[str, Any]], Awaitable[None]]
