"""AES-256-GCM sealing of resource bodies, with a keyring so keys can rotate without downtime.

A sealed body is `0x01 | key id (8 bytes) | nonce (12 bytes) | ciphertext+tag`. The key id is the
first 8 bytes of SHA-256 of the key, so a body names the key that sealed it without revealing it.
The associated data is `Type/id/version`: a body moved to another row (or version) fails to open.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "EncryptionError", "KeyNotFound", "DecryptionFailed", "Keyring", "FileKeyring",
    "associated_data", "decode_key", "generate_key", "key_id_of",
]

FORMAT_V1 = 1
KEY_ID_BYTES = 8
NONCE_BYTES = 12
HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES


class EncryptionError(Exception):
    """A body cannot be sealed or opened; the message says what to check."""


class KeyNotFound(EncryptionError):
    pass


class DecryptionFailed(EncryptionError):
    pass


def associated_data(res_type: str, res_id: str, version_id: int) -> bytes:
    return f"{res_type}/{res_id}/{version_id}".encode()


def generate_key() -> str:
    """A new random 256-bit key, base64-encoded (what FHIR_ENCRYPTION_KEY takes)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EncryptionError("encryption key is not valid base64") from exc
    if len(raw) != 32:
        raise EncryptionError(f"encryption key must be 32 bytes (AES-256), got {len(raw)}")
    return raw


def key_id_of(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


class Keyring:
    """Keys by id; seals with the active one, opens with whichever sealed the body."""

    def __init__(self, keys: Iterable[bytes], active: bytes) -> None:
        self._ciphers: dict[bytes, AESGCM] = {}
        self._install(keys, active)

    def _install(self, keys: Iterable[bytes], active: bytes) -> None:
        ciphers = {key_id_of(key): AESGCM(key) for key in keys}
        ciphers[key_id_of(active)] = AESGCM(active)
        self._ciphers = ciphers
        self._active_id = key_id_of(active)
        self._active = ciphers[self._active_id]

    @property
    def active_key_id(self) -> str:
        return self._active_id.hex()

    @property
    def key_ids(self) -> list[str]:
        return [kid.hex() for kid in self._ciphers]

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return bytes((FORMAT_V1,)) + self._active_id + nonce + self._active.encrypt(nonce, plaintext, aad)

    def sealed_with_active(self, blob: bytes) -> bool:
        return blob[1:1 + KEY_ID_BYTES] == self._active_id

    def _cipher_for(self, key_id: bytes) -> AESGCM | None:
        return self._ciphers.get(key_id)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < HEADER_BYTES + 16 or blob[0] != FORMAT_V1:
            raise DecryptionFailed(f"stored body of {aad.decode()} is not in the sealed format")
        key_id = bytes(blob[1:1 + KEY_ID_BYTES])
        cipher = self._cipher_for(key_id)
        if cipher is None:
            raise KeyNotFound(
                f"stored body of {aad.decode()} was sealed with key {key_id.hex()}, which is not in the "
                f"keyring (have {', '.join(self.key_ids)}); check FHIR_ENCRYPTION_KEY / the keyring file"
            )
        nonce = blob[1 + KEY_ID_BYTES:HEADER_BYTES]
        try:
            return cipher.decrypt(bytes(nonce), bytes(blob[HEADER_BYTES:]), aad)
        except InvalidTag as exc:
            raise DecryptionFailed(
                f"stored body of {aad.decode()} failed authentication with key {key_id.hex()}: "
                "wrong key, or the row was altered or moved"
            ) from exc

    @classmethod
    def from_environment(cls, key: str, old_keys: str = "") -> Keyring:
        olds = [decode_key(k) for k in old_keys.split(",") if k.strip()]
        return cls(olds, decode_key(key))


class FileKeyring(Keyring):
    """A keyring kept in a JSON file (mode 0600) that other processes may rotate.

    The file is re-read when it changes (checked at most once a second, and whenever a body names a
    key id this process does not know), so running servers pick up a rotated key without a restart.
    """

    RECHECK_SECONDS = 1.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime = 0.0
        self._checked = 0.0
        super().__init__(*self._read())

    @staticmethod
    def create(path: Path) -> FileKeyring:
        """Write a new keyring with one fresh key; refuses to overwrite an existing file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_keyring(path, [_entry(secrets.token_bytes(32))], exclusive=True)
        return FileKeyring(path)

    def _read(self) -> tuple[list[bytes], bytes]:
        try:
            stat = self.path.stat()
            document = orjson.loads(self.path.read_bytes())
            entries = document["keys"]
            keys = {entry["id"]: decode_key(entry["key"]) for entry in entries}
            active = keys[document["active"]]
        except FileNotFoundError as exc:
            raise EncryptionError(f"keyring file {self.path} does not exist") from exc
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise EncryptionError(f"keyring file {self.path} is malformed: {exc}") from exc
        if stat.st_mode & 0o077:
            raise EncryptionError(f"keyring file {self.path} must not be readable by group or others (chmod 600)")
        self._mtime = stat.st_mtime
        return list(keys.values()), active

    def _reload_if_changed(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.RECHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            try:
                changed = self.path.stat().st_mtime != self._mtime
            except FileNotFoundError:
                return
            if changed or force:
                self._install(*self._read())

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        self._reload_if_changed()
        return super().seal(plaintext, aad)

    def _cipher_for(self, key_id: bytes) -> AESGCM | None:
        cipher = super()._cipher_for(key_id)
        if cipher is None:
            self._reload_if_changed(force=True)
            cipher = super()._cipher_for(key_id)
        return cipher

    def add_active_key(self, key: bytes | None = None) -> str:
        """Append a new key (random unless given) and make it the active one; returns its id."""
        key = key or secrets.token_bytes(32)
        document = orjson.loads(self.path.read_bytes())
        document["keys"].append(_entry(key))
        document["active"] = key_id_of(key).hex()
        _write_keyring(self.path, document["keys"], active=document["active"])
        self._reload_if_changed(force=True)
        return key_id_of(key).hex()

    def retire_keys_except_active(self) -> list[str]:
        """Drop every key but the active one from the file (after a complete rotation)."""
        document = orjson.loads(self.path.read_bytes())
        kept = [e for e in document["keys"] if e["id"] == document["active"]]
        dropped = [e["id"] for e in document["keys"] if e["id"] != document["active"]]
        _write_keyring(self.path, kept, active=document["active"])
        self._reload_if_changed(force=True)
        return dropped


def _entry(key: bytes) -> dict[str, str]:
    return {
        "id": key_id_of(key).hex(),
        "key": base64.b64encode(key).decode(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_keyring(path: Path, entries: list[dict[str, str]], *, active: str | None = None,
                   exclusive: bool = False) -> None:
    """Write the keyring beside its path, then put it in place: readers never see a half-written one.

    `exclusive`: put in place only if no keyring is there yet (FileExistsError otherwise), so of
    several processes creating one at their first start exactly one key wins."""
    document = {"active": active or entries[-1]["id"], "keys": entries}
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(temp, path)
        else:
            os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
