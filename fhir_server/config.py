"""Settings: one validated object, built at start-up and passed in (never a module-level singleton).

Every field reads from an environment variable of the same name with the `FHIR_` prefix
(`FHIR_DATABASE_URL`, `FHIR_DATA_DIR`, ...). See the README's configuration table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIR_", extra="ignore")

    # Where the embedded default keeps its SQLite database and key file.
    data_dir: Path = Path("./data")
    # SQLAlchemy URL; empty means SQLite in data_dir. PostgreSQL: postgresql://user@host:5432/db
    database_url: str = ""
    # Redis URL; empty means in-process equivalents (single-process deployments only).
    redis_url: str = ""

    # Public base URL of the FHIR endpoint, used in Location, fullUrl and links. Empty: taken from the request.
    base_url: str = ""

    # Encryption at rest. `encryption_key` is a base64 (urlsafe or standard) 32-byte key;
    # `encryption_key_file` a keyring file; neither: the key file in data_dir, created on first start.
    encryption_key: str = ""
    encryption_old_keys: str = ""  # comma-separated base64 keys still accepted for reading
    encryption_key_file: Path | None = None

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # entries of one batch or transaction Bundle; more get 413 (bulk loads go through `import`)
    max_bundle_entries: int = Field(default=10_000, ge=1)
    # how often a process looks for CodeSystems/ValueSets/ConceptMaps that other processes wrote
    terminology_poll_seconds: float = Field(default=2.0, gt=0)
    default_page_size: int = Field(default=20, ge=1, le=1000)
    max_page_size: int = Field(default=1000, ge=1, le=10000)
    database_pool_size: int = Field(default=20, ge=1, le=500)
    # PostgreSQL parallel workers one statement of the server may use (max_parallel_workers_per_gather).
    # 0 keeps each statement on one core: a server answers many clients at once, and on a small
    # machine a search spread over three processes leaves the others waiting (with 2 cores and 8
    # concurrent searches, a 2-level chain's p95 fell from 508 ms to 380 ms); raise it on big machines
    database_parallel_workers: int = Field(default=0, ge=0, le=64)
    # PostgreSQL clusters without autovacuum: how often a process looks for tables due for vacuuming or
    # analyzing by autovacuum's rules and does it (`storage.statistics`); 0: never
    database_analyze_seconds: float = Field(default=30.0, ge=0)

    # Writes also run the `fhir.resources` R4B models after the R4 validator (for the types whose R4B
    # structure is R4's); `$validate` always does. Off by default: across 7,260 randomly damaged
    # resources of all 121 such types they refused none that the R4 validator accepted, and they
    # take nine tenths of a write's validation time (a quarter of a bulk import's CPU)
    validation_r4b_models: bool = False

    # Loopback-only demo mode without access control.
    dev_mode: bool = False

    # SMART on FHIR authorization server (lifetimes in seconds; see fhir_server/auth/settings.py)
    auth_access_token_lifetime: int = Field(default=3600, ge=60, le=86400)
    auth_backend_token_lifetime: int = Field(default=300, ge=30, le=300)
    auth_offline_refresh_lifetime: int = Field(default=90 * 86400, ge=3600)
    auth_online_refresh_lifetime: int = Field(default=12 * 3600, ge=600)
    auth_max_failed_logins: int = Field(default=5, ge=1, le=100)
    auth_lockout_seconds: int = Field(default=900, ge=1)
    auth_password_time_cost: int = Field(default=2, ge=1, le=20)
    auth_password_memory_kib: int = Field(default=19456, ge=8)
    auth_revocation_poll_seconds: float = Field(default=5.0, gt=0)
    # how long a trainee's supervisor's patient list is reused before it is looked up again
    auth_linkage_cache_seconds: int = Field(default=30, ge=0, le=3600)
    # AI pipeline (the `ai-pipeline` plugin). Bulk loads ($import, `fhir-server import`, demo data) do not
    # queue its per-resource jobs unless this is on: a migration is not a stream of new lab results.
    ai_pipeline_on_bulk_import: bool = False
    # Limits on reading one scanned document (each attachment): over a size limit it is refused before
    # any OCR, over a time limit it stops; either way the job's result says why and nothing is filed.
    ai_ocr_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    ai_ocr_max_pages: int = Field(default=20, ge=1, le=1000)
    ai_ocr_max_page_pixels: int = Field(default=60_000_000, ge=100_000)
    ai_ocr_page_timeout_seconds: float = Field(default=30.0, gt=0)
    ai_ocr_document_timeout_seconds: float = Field(default=120.0, gt=0)
    # `fhir-server all`: the API process also runs the job worker and the HL7 listener
    embedded: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    mllp_port: int = Field(default=2575, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_encryption_source(self) -> Settings:
        if self.encryption_key and self.encryption_key_file:
            raise ValueError("set FHIR_ENCRYPTION_KEY or FHIR_ENCRYPTION_KEY_FILE, not both")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The async driver URL: asyncpg for PostgreSQL, aiosqlite for SQLite."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'fhir.db').resolve()}"
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql+psycopg://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain):]
        return url

    @property
    def driver_dsn(self) -> str:
        """The PostgreSQL URL as asyncpg takes it (no SQLAlchemy driver suffix)."""
        return "postgresql://" + self.sqlalchemy_url.split("://", 1)[1]

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def key_file(self) -> Path:
        return self.encryption_key_file or self.data_dir / "keyring.json"
