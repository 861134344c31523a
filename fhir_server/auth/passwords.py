"""Password and client-secret hashing with Argon2id (argon2-cffi), and the rules a new password must meet.

The cost defaults to OWASP's recommendation for Argon2id (19 MiB, 2 passes, 1 lane); a hash records
its own parameters, so raising them later still verifies old hashes (and `needs_rehash` tells when to
rehash at the next login). Hashing costs CPU on purpose: callers on the event loop use the `_async`
methods, which run in a worker thread.
"""

from __future__ import annotations

from functools import cached_property

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fhir_server.errors import BadRequest

__all__ = ["Passwords", "check_password_rules", "MIN_PASSWORD_LENGTH"]

MIN_PASSWORD_LENGTH = 10


class Passwords:
    def __init__(self, *, time_cost: int = 2, memory_kib: int = 19456, parallelism: int = 1) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)

    @cached_property
    def _dummy(self) -> str:
        """Verified against when there is no hash (unknown user), so both paths take as long."""
        return self._hasher.hash("not a password anyone has")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    async def hash_async(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hash, password)

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        return await anyio.to_thread.run_sync(self.verify, password_hash, password)


def check_password_rules(password: str, *, username: str = "") -> None:
    """BadRequest when the password is too weak to set."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if username and password.lower() == username.lower():
        raise BadRequest("the password may not be the username")
