"""The authorization server's records, as the repositories read and write them (no behaviour here)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Account", "ClientRecord", "CodeRecord", "RefreshRecord", "LaunchContext", "PendingAuthorization",
    "SigningKeyRecord", "GrantRecord",
]


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    username: str
    role: str
    password_hash: str
    fhir_user: str | None = None
    supervisor: str | None = None
    tenure_end_at: int | None = None
    disabled: bool = False
    totp_secret: bytes | None = None  # sealed
    totp_last_step: int | None = None
    failed_logins: int = 0
    locked_until: int | None = None
    created_at: int = 0
    updated_at: int = 0

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_secret is not None

    def tenure_over(self, now: int) -> bool:
        return self.tenure_end_at is not None and now >= self.tenure_end_at

    def active(self, now: int) -> bool:
        """May this account log in, refresh, or use a token at `now`?"""
        return not self.disabled and not self.tenure_over(now)

    @property
    def patient_id(self) -> str | None:
        """The id of the Patient the account is, for the patient role."""
        if self.fhir_user and self.fhir_user.startswith("Patient/"):
            return self.fhir_user.split("/", 1)[1]
        return None

    def public(self) -> dict[str, object]:
        """What the admin API and CLI show: never the hashes or secrets."""
        return {"account_id": self.account_id, "username": self.username, "role": self.role,
                "fhir_user": self.fhir_user, "supervisor": self.supervisor, "tenure_end_at": self.tenure_end_at,
                "disabled": self.disabled, "totp_enrolled": self.totp_enrolled, "locked_until": self.locked_until}


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    auth_method: str  # none | client_secret_basic | private_key_jwt
    scopes: str
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    name: str | None = None
    secret_hash: str | None = None
    jwks: str | None = None
    jwks_uri: str | None = None
    disabled: bool = False
    created_at: int = 0

    def public(self) -> dict[str, object]:
        return {"client_id": self.client_id, "name": self.name, "auth_method": self.auth_method,
                "scopes": self.scopes, "redirect_uris": list(self.redirect_uris),
                "grant_types": list(self.grant_types), "jwks_uri": self.jwks_uri,
                "has_jwks": self.jwks is not None, "disabled": self.disabled}


@dataclass(frozen=True, slots=True)
class GrantRecord:
    grant_id: str
    client_id: str
    account_id: str | None
    created_at: int
    expires_at: int
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class CodeRecord:
    code_hash: str
    grant_id: str
    client_id: str
    account_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    auth_time: int
    expires_at: int
    nonce: str | None = None
    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool = False
    used: bool = False


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    token_hash: str
    grant_id: str
    client_id: str
    account_id: str | None
    scope: str
    auth_time: int
    issued_at: int
    expires_at: int
    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool = False
    revoked: bool = False
    rotated: bool = False


@dataclass(frozen=True, slots=True)
class LaunchContext:
    launch_id: str
    patient: str | None
    encounter: str | None
    need_patient_banner: bool
    created_by: str | None
    created_at: int
    expires_at: int
    used: bool = False


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    request_id: str
    browser_hash: str
    csrf: str
    params: dict[str, str] = field(default_factory=dict)
    account_id: str | None = None
    auth_time: int | None = None
    patient: str | None = None
    encounter: str | None = None
    created_at: int = 0
    expires_at: int = 0


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    kid: str
    alg: str
    private_key: bytes  # sealed PEM
    public_jwk: str
    created_at: int
    active: bool
    retired_at: int | None = None
