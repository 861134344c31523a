"""Accounts: creation, login (Argon2 password, TOTP when enrolled, lockout after repeated failures),
disabling, trainees' tenure, and password reset by a single-use, time-limited token.

Trainees have a tenure end: `--tenure-end 2027-06-30` means access through that day (UTC), so it ends
at 2027-07-01T00:00:00Z. From then on logins are refused, refresh tokens are refused and access tokens
are expired (they are never issued past it), with no one having to act.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from fhir_server.auth import totp
from fhir_server.auth.models import Account
from fhir_server.auth.passwords import Passwords, check_password_rules
from fhir_server.auth.ports import Sealer, UnitOfWork
from fhir_server.auth.repositories import accounts as account_rows
from fhir_server.auth.revoker import GrantRevoker
from fhir_server.auth.roles import USER_ROLES, Role
from fhir_server.auth.settings import AuthSettings
from fhir_server.errors import BadRequest, NotFound, VersionConflict
from fhir_server.storage.driver import ConcurrentWrite

__all__ = ["AccountService", "LoginOutcome", "LoginResult", "NewAccount", "tenure_end_from_date", "token_hash",
           "Enrolment"]

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,127}$")
REFERENCE = re.compile(r"^(Practitioner|Patient)/[A-Za-z0-9\-.]{1,64}$")


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def tenure_end_from_date(day: dt.date) -> int:
    """Access through `day` (UTC): the tenure ends at the next midnight UTC, as epoch seconds."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    return int(midnight.timestamp())


class LoginOutcome(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # unknown user, wrong password or one-time code
    LOCKED = "locked"
    DISABLED = "disabled"
    TENURE_OVER = "tenure_over"


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    account: Account | None = None


@dataclass(frozen=True, slots=True)
class NewAccount:
    username: str
    role: str
    password: str
    fhir_user: str | None = None
    supervisor: str | None = None
    tenure_end: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    provisioning_uri: str


def _check(new: NewAccount) -> None:
    if not USERNAME.match(new.username):
        raise BadRequest("a username is 2-128 letters, digits and . _ @ -, starting with a letter or digit")
    if new.role not in USER_ROLES:
        raise BadRequest(f"role must be one of {', '.join(sorted(USER_ROLES))}")
    check_password_rules(new.password, username=new.username)
    if new.fhir_user is not None and not REFERENCE.match(new.fhir_user):
        raise BadRequest("fhir_user must be Practitioner/ID or Patient/ID")
    if new.role == Role.PATIENT and not (new.fhir_user or "").startswith("Patient/"):
        raise BadRequest("a patient account needs --fhir-user Patient/ID")
    if new.role in (Role.DOCTOR, Role.TRAINEE) and not (new.fhir_user or "").startswith("Practitioner/"):
        raise BadRequest(f"a {new.role} account needs --fhir-user Practitioner/ID")
    if new.role == Role.TRAINEE:
        if not new.supervisor or not new.supervisor.startswith("Practitioner/") or not REFERENCE.match(new.supervisor):
            raise BadRequest("a trainee needs --supervisor Practitioner/ID (their supervising doctor)")
        if new.tenure_end is None:
            raise BadRequest("a trainee needs --tenure-end YYYY-MM-DD")
    elif new.supervisor or new.tenure_end:
        raise BadRequest("only trainees have a supervisor and a tenure end")


class AccountService:
    def __init__(self, uow: UnitOfWork, sealer: Sealer, revoker: GrantRevoker, settings: AuthSettings) -> None:
        self.uow = uow
        self.sealer = sealer
        self.revoker = revoker
        self.settings = settings
        self.passwords = Passwords(time_cost=settings.password_time_cost, memory_kib=settings.password_memory_kib)

    # -- administration ------------------------------------------------------------------------

    async def create(self, new: NewAccount) -> Account:
        _check(new)
        now = int(time.time())
        account = Account(
            account_id=str(uuid.uuid4()), username=new.username, role=new.role,
            password_hash=await self.passwords.hash_async(new.password), fhir_user=new.fhir_user,
            supervisor=new.supervisor,
            tenure_end_at=tenure_end_from_date(new.tenure_end) if new.tenure_end else None,
            created_at=now, updated_at=now)
        try:
            async with self.uow.write() as tx:
                if await account_rows.by_username(tx.db, new.username) is not None:
                    raise VersionConflict(f"there is already an account '{new.username}'")
                await account_rows.insert(tx.db, account)
        except ConcurrentWrite as exc:
            raise VersionConflict(f"there is already an account '{new.username}'") from exc
        return account

    async def get(self, username: str) -> Account:
        async with self.uow.read() as tx:
            account = await account_rows.by_username(tx.db, username)
        if account is None:
            raise NotFound(f"no account '{username}'")
        return account

    async def by_id(self, account_id: str) -> Account | None:
        async with self.uow.read() as tx:
            return await account_rows.by_id(tx.db, account_id)

    async def list_accounts(self) -> list[Account]:
        async with self.uow.read() as tx:
            return await account_rows.list_all(tx.db)

    async def _update(self, account: Account, **fields: object) -> Account:
        async with self.uow.write() as tx:
            await account_rows.update(tx.db, account.account_id, now=int(time.time()), **fields)
        return replace(account, **fields)  # type: ignore[arg-type]

    async def set_disabled(self, username: str, disabled: bool) -> Account:
        account = await self._update(await self.get(username), disabled=disabled)
        if disabled:
            await self.revoker.revoke_account(account.account_id)
        return account

    async def set_tenure_end(self, username: str, day: dt.date) -> Account:
        account = await self.get(username)
        if account.role != Role.TRAINEE:
            raise BadRequest("only trainees have a tenure end")
        account = await self._update(account, tenure_end_at=tenure_end_from_date(day))
        await self.revoker.revoke_account(account.account_id)
        return account

    async def enroll_totp(self, username: str) -> Enrolment:
        """A new TOTP secret (replacing any earlier one): show it once, it is stored sealed."""
        account = await self.get(username)
        secret = totp.new_secret()
        sealed = self.sealer.seal(secret.encode(), _totp_aad(account.account_id))
        await self._update(account, totp_secret=sealed, totp_last_step=None)
        return Enrolment(secret, totp.provisioning_uri(secret, username=username, issuer=self.settings.server_name))

    async def reseal_totp_secrets(self) -> int:
        """Seal every TOTP secret again with the keyring's active key (after `fhir-server keys rotate`)."""
        accounts = [a for a in await self.list_accounts() if a.totp_secret is not None]
        async with self.uow.write() as tx:
            for account in accounts:
                assert account.totp_secret is not None
                aad = _totp_aad(account.account_id)
                secret = self.sealer.open(account.totp_secret, aad)
                await account_rows.update(tx.db, account.account_id, now=int(time.time()),
                                          totp_secret=self.sealer.seal(secret, aad))
        return len(accounts)

    # -- login ---------------------------------------------------------------------------------

    async def authenticate(self, username: str, password: str, one_time_code: str = "") -> LoginResult:
        now = int(time.time())
        async with self.uow.read() as tx:
            account = await account_rows.by_username(tx.db, username)
        if account is None:
            await self.passwords.verify_async(None, password)
            return LoginResult(LoginOutcome.INVALID)
        if account.locked_until is not None and account.locked_until > now:
            return LoginResult(LoginOutcome.LOCKED, account)
        if not await self.passwords.verify_async(account.password_hash, password):
            return await self._failed(account, now)
        if account.totp_secret is not None:
            secret = self.sealer.open(account.totp_secret, _totp_aad(account.account_id)).decode()
            step = totp.matching_step(secret, one_time_code, last_step=account.totp_last_step)
            if step is None:
                return await self._failed(account, now)
            async with self.uow.write() as tx:
                if not await account_rows.claim_totp_step(tx.db, account.account_id, step):
                    step = None
            if step is None:
                return await self._failed(account, now)
        async with self.uow.write() as tx:
            await account_rows.record_success(tx.db, account.account_id, now=now)
            if self.passwords.needs_rehash(account.password_hash):
                await account_rows.update(tx.db, account.account_id, now=now,
                                          password_hash=await self.passwords.hash_async(password))
        if account.disabled:
            return LoginResult(LoginOutcome.DISABLED, account)
        if account.tenure_over(now):
            return LoginResult(LoginOutcome.TENURE_OVER, account)
        return LoginResult(LoginOutcome.OK, account)

    async def _failed(self, account: Account, now: int) -> LoginResult:
        async with self.uow.write() as tx:
            count = await account_rows.record_failure(
                tx.db, account.account_id, max_failures=self.settings.max_failed_logins,
                lock_until=now + self.settings.lockout_seconds, now=now)
        outcome = LoginOutcome.LOCKED if count >= self.settings.max_failed_logins else LoginOutcome.INVALID
        return LoginResult(outcome, account)

    # -- password reset ------------------------------------------------------------------------

    async def create_reset_token(self, username: str) -> tuple[str, int]:
        """A single-use token to set a new password, and when it expires."""
        account = await self.get(username)
        token = secrets.token_urlsafe(32)
        now = int(time.time())
        expires_at = now + self.settings.password_reset_lifetime
        async with self.uow.write() as tx:
            await account_rows.insert_reset(tx.db, token_hash=token_hash(token), account_id=account.account_id,
                                            now=now, expires_at=expires_at)
        return token, expires_at

    async def reset_password(self, token: str, new_password: str) -> Account:
        """Set a new password with a reset token (once); unlocks the account and ends its sessions."""
        now = int(time.time())
        async with self.uow.read() as tx:
            pending = await account_rows.reset_account(tx.db, token_hash(token), now=now)
            account = await account_rows.by_id(tx.db, pending) if pending else None
        if account is None:
            raise BadRequest("this password reset link is not valid: it was used, has expired, or never existed")
        check_password_rules(new_password, username=account.username)
        password_hash = await self.passwords.hash_async(new_password)
        async with self.uow.write() as tx:
            if await account_rows.consume_reset(tx.db, token_hash(token), now=now) != account.account_id:
                raise BadRequest("this password reset link is not valid: it was used, has expired, or never existed")
            await account_rows.update(tx.db, account.account_id, now=now, password_hash=password_hash,
                                      failed_logins=0, locked_until=None)
        await self.revoker.revoke_account(account.account_id)
        return account

    async def reset_token_valid(self, token: str) -> bool:
        async with self.uow.read() as tx:
            return await account_rows.reset_account(tx.db, token_hash(token), now=int(time.time())) is not None


def _totp_aad(account_id: str) -> bytes:
    return f"auth_accounts/{account_id}/totp".encode()
