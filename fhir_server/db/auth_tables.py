"""The authorization server's tables: accounts, OAuth clients, grants, codes, refresh tokens, launch
contexts, authorizations in progress, password-reset tokens and the server's signing keys.

They share `metadata` with `fhir_server.db.tables`, so Alembic and the test fixtures see one schema.
Times here are integer seconds since the Unix epoch (UTC), the unit JWT claims use. Secrets are never
stored as given: passwords and client secrets as Argon2 hashes, codes and tokens as SHA-256 hex, the
TOTP secrets and the signing keys sealed with the keyring (AES-256-GCM) like resource bodies.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Table, Text

from fhir_server.db.tables import PrimaryKey, metadata

__all__ = [
    "auth_accounts", "auth_clients", "auth_grants", "auth_codes", "auth_refresh_tokens",
    "auth_launch_contexts", "auth_pending", "auth_reset_tokens", "auth_signing_keys", "auth_revocations", "AUTH_TABLES",
]

auth_accounts = Table(
    "auth_accounts",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("username", String(128), nullable=False, unique=True),
    # doctor | trainee | admin | patient | analyst
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    # the FHIR resource the person is: Practitioner/123 or Patient/456
    Column("fhir_user", String(255), nullable=True),
    # trainees: the supervising doctor's Practitioner reference
    Column("supervisor", String(255), nullable=True),
    # trainees: the first instant (epoch seconds) at which they no longer have access
    Column("tenure_end_at", BigInteger, nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("totp_secret", LargeBinary, nullable=True),
    # the last TOTP time step accepted, so a code cannot be replayed
    Column("totp_last_step", BigInteger, nullable=True),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

auth_clients = Table(
    "auth_clients",
    metadata,
    Column("client_id", String(128), primary_key=True),
    Column("name", String(255), nullable=True),
    # token endpoint authentication: none | client_secret_basic | private_key_jwt
    Column("auth_method", String(32), nullable=False),
    Column("secret_hash", Text, nullable=True),
    # a JSON Web Key Set (text) or the URL it is published at, for private_key_jwt
    Column("jwks", Text, nullable=True),
    Column("jwks_uri", String(1024), nullable=True),
    Column("redirect_uris", Text, nullable=False),  # JSON array
    Column("scopes", Text, nullable=False),  # the most the client may ever be granted, space-separated
    Column("grant_types", Text, nullable=False),  # JSON array
    Column("disabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# One row per authorization (a code exchanged, a client_credentials grant): access tokens carry its id
# as `sid`, so revoking the grant revokes every token issued under it.
auth_grants = Table(
    "auth_grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("client_id", String(128), nullable=False),
    Column("account_id", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Index(None, "account_id"),
    Index(None, "client_id"),
)

auth_codes = Table(
    "auth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("grant_id", String(64), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("redirect_uri", String(1024), nullable=False),
    Column("scope", Text, nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("code_challenge_method", String(8), nullable=False),
    Column("nonce", String(255), nullable=True),
    Column("auth_time", BigInteger, nullable=False),
    Column("patient", String(64), nullable=True),
    Column("encounter", String(64), nullable=True),
    Column("need_patient_banner", Boolean, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False),
    Index(None, "expires_at"),
)

auth_refresh_tokens = Table(
    "auth_refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("grant_id", String(64), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("account_id", String(64), nullable=True),
    Column("scope", Text, nullable=False),
    Column("patient", String(64), nullable=True),
    Column("encounter", String(64), nullable=True),
    Column("need_patient_banner", Boolean, nullable=False),
    Column("auth_time", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False),
    # revoked because a newer token replaced it: presenting it again means it leaked
    Column("rotated", Boolean, nullable=False),
    Index(None, "grant_id"),
    Index(None, "expires_at"),
)

# What an EHR hands an app it launches (`launch` parameter): the patient and encounter in context.
auth_launch_contexts = Table(
    "auth_launch_contexts",
    metadata,
    Column("launch_id", String(64), primary_key=True),
    Column("patient", String(64), nullable=True),
    Column("encounter", String(64), nullable=True),
    Column("need_patient_banner", Boolean, nullable=False),
    Column("created_by", String(128), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False),
)

# An authorization request between the app's redirect to /authorize and the code: the browser holding
# the cookie whose hash is `browser_hash` logs in, picks a patient and consents here.
auth_pending = Table(
    "auth_pending",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("browser_hash", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("params", Text, nullable=False),  # the authorization request's parameters, JSON
    Column("account_id", String(64), nullable=True),
    Column("auth_time", BigInteger, nullable=True),
    Column("patient", String(64), nullable=True),
    Column("encounter", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "expires_at"),
)

auth_reset_tokens = Table(
    "auth_reset_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False),
)

auth_signing_keys = Table(
    "auth_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_key", LargeBinary, nullable=False),  # PKCS#8 PEM, sealed
    Column("public_jwk", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # retired keys stay published (and verifying) until every token they signed has expired
    Column("active", Boolean, nullable=False),
    Column("retired_at", BigInteger, nullable=True),
)

# Revoked access tokens (`jti:...`) and grants (`sid:...`), kept until every token they cover has
# expired: what each process's in-memory revocation set is loaded from and polled for.
auth_revocations = Table(
    "auth_revocations",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False),
    Column("until", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "created_at"),
    Index(None, "until"),
)

AUTH_TABLES = (auth_accounts, auth_clients, auth_grants, auth_codes, auth_refresh_tokens, auth_launch_contexts,
               auth_pending, auth_reset_tokens, auth_signing_keys, auth_revocations)
