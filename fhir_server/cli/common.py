"""What every command shares: reading the settings, failing clearly, preparing the database."""

from __future__ import annotations

import ipaddress

import click

from fhir_server.config import Settings

__all__ = ["load_settings", "fail", "prepare", "is_loopback"]

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:  # pydantic's ValidationError: say what is wrong with the configuration
        raise click.ClickException(f"invalid configuration: {exc}") from exc


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fail(message: str) -> None:
    raise click.ClickException(message)


async def prepare(settings: Settings) -> None:
    """Migrate (SQLite) and open the keyring once, before any worker process starts."""
    from fhir_server.bootstrap import StartupError, check_terminology, prepare_database
    from fhir_server.db.engine import create_engine
    from fhir_server.storage.crypto import EncryptionError
    from fhir_server.storage.keys import open_keyring, verify_keyring

    try:
        await prepare_database(settings)
        await check_terminology(settings)
        engine = create_engine(settings.sqlalchemy_url, pool_size=1)
        try:
            await verify_keyring(engine, await open_keyring(settings, engine))
        finally:
            await engine.dispose()
    except (StartupError, EncryptionError) as exc:
        fail(str(exc))
