"""Run the Alembic migrations programmatically (`fhir-server migrate`, and the embedded default's start),
then bring the shipped terminology content in the database up to date (`terminology_content.sync`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from fhir_server.db import terminology_content

__all__ = ["alembic_config", "upgrade", "current_revision"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # `%` would be read as interpolation by configparser
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> terminology_content.Sync | None:
    """Bring the database at `url` (an async driver URL) up to `revision`; at head, its terminology
    content too (what that wrote, for the operator)."""
    command.upgrade(alembic_config(url), revision)
    if revision not in ("head", head_revision()):
        return None  # the content tables may not exist yet
    return terminology_content.sync(url)


def current_revision(url: str) -> str | None:
    import asyncio

    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
