"""The server's signing keys: RSA-2048, RS256, for access tokens and ID tokens, published as a JWKS.

Keys live in `auth_signing_keys`, the private half sealed with the keyring. The newest active key
signs; retired keys stay published (and verify) for `retired_window` seconds, longer than any token
they signed lives. A process that meets a token signed with a key it has not loaded yet (another
process rotated) reloads the keys once (`reload_for`).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass

import anyio.to_thread
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc.jwk import RSAKey

from fhir_server.auth.models import SigningKeyRecord
from fhir_server.auth.ports import Sealer, UnitOfWork
from fhir_server.auth.repositories import keys as key_rows

__all__ = ["SigningKeys", "LoadedKey", "b64url", "ALG"]

ALG = "RS256"
_PADDING = padding.PKCS1v15()
_HASH = hashes.SHA256()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _aad(kid: str) -> bytes:
    return f"auth_signing_keys/{kid}".encode()


@dataclass(frozen=True, slots=True)
class LoadedKey:
    kid: str
    private: rsa.RSAPrivateKey
    public: rsa.RSAPublicKey
    jwk: dict[str, str]


def _generate() -> tuple[str, bytes, dict[str, str]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    kid = secrets.token_urlsafe(12)
    jwk = {"kty": "RSA", "use": "sig", "alg": ALG, "kid": kid, "n": _uint(numbers.n), "e": _uint(numbers.e)}
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return kid, pem, jwk


class SigningKeys:
    def __init__(self, uow: UnitOfWork, sealer: Sealer, *, retired_window: int = 2 * 86400) -> None:
        self.uow = uow
        self.sealer = sealer
        self.retired_window = retired_window
        self._keys: dict[str, LoadedKey] = {}
        self._active: LoadedKey | None = None
        self._last_reload = 0.0

    # -- loading -------------------------------------------------------------------------------

    async def load(self) -> None:
        """Load the published keys; create the first one if there is none."""
        records = await self._records()
        if not any(r.active for r in records):
            await self._create()
            records = await self._records()
        keys = {r.kid: self._open(r) for r in records}
        active = next(r for r in records if r.active)
        self._keys, self._active = keys, keys[active.kid]
        self._last_reload = time.monotonic()

    async def _records(self) -> list[SigningKeyRecord]:
        async with self.uow.read() as tx:
            return await key_rows.list_published(tx.db, retired_after=int(time.time()) - self.retired_window)

    def _open(self, record: SigningKeyRecord) -> LoadedKey:
        pem = self.sealer.open(record.private_key, _aad(record.kid))
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError(f"signing key {record.kid} is not an RSA key")
        return LoadedKey(record.kid, private, private.public_key(), json.loads(record.public_jwk))

    async def _create(self) -> str:
        kid, pem, jwk = await anyio.to_thread.run_sync(_generate)
        record = SigningKeyRecord(kid, ALG, self.sealer.seal(pem, _aad(kid)), json.dumps(jwk), int(time.time()),
                                  True)
        async with self.uow.write() as tx:
            await key_rows.insert(tx.db, record)
        return kid

    async def rotate(self) -> str:
        """Make a new key the signing key; the old ones stay published for `retired_window`."""
        kid = await self._create()
        async with self.uow.write() as tx:
            await key_rows.retire_all_but(tx.db, kid, now=int(time.time()))
        await self.load()
        return kid

    async def reload_for(self, kid: str) -> bool:
        """Reload when a token names a key not loaded here (at most every few seconds)."""
        if kid in self._keys:
            return True
        if time.monotonic() - self._last_reload < 5:
            return False
        await self.load()
        return kid in self._keys

    async def reseal(self) -> int:
        """Seal every stored private key again with the keyring's active key (after `keys rotate`)."""
        records = await self._records()
        async with self.uow.write() as tx:
            for record in records:
                pem = self.sealer.open(record.private_key, _aad(record.kid))
                await key_rows.reseal(tx.db, record.kid, self.sealer.seal(pem, _aad(record.kid)))
        return len(records)

    # -- use -----------------------------------------------------------------------------------

    @property
    def active(self) -> LoadedKey:
        if self._active is None:
            raise RuntimeError("the signing keys are not loaded: call load() at start")
        return self._active

    def sign(self, signing_input: bytes) -> tuple[str, bytes]:
        """(kid, RS256 signature) with the active key."""
        key = self.active
        return key.kid, key.private.sign(signing_input, _PADDING, _HASH)

    def verify(self, kid: str, signing_input: bytes, signature: bytes) -> bool:
        key = self._keys.get(kid)
        if key is None:
            return False
        try:
            key.public.verify(signature, signing_input, _PADDING, _HASH)
        except Exception:
            return False
        return True

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.jwk for key in self._keys.values()]}

    def private_jwk(self) -> RSAKey:
        """The active key for joserfc (ID tokens through authlib)."""
        key = self.active
        pem = key.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        return RSAKey.import_key(pem, {"kid": key.kid, "alg": ALG, "use": "sig"})
