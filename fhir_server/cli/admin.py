"""`fhir-server migrate` and `fhir-server keys …`: schema (and the terminology content) and encryption keys."""

from __future__ import annotations

import asyncio

import click

from fhir_server.cli.common import fail, load_settings
from fhir_server.config import Settings

__all__ = ["migrate", "keys"]


@click.command()
def migrate() -> None:
    """Bring the database schema (Alembic) and the shipped terminology content up to date."""
    from fhir_server.db import migrate as migrations

    settings = load_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    loaded = migrations.upgrade(settings.sqlalchemy_url)
    click.echo(f"database at schema revision {migrations.current_revision(settings.sqlalchemy_url)}")
    click.echo(f"terminology content: {loaded}")


@click.group()
def keys() -> None:
    """Encryption keys of the resource store."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random AES-256 key for FHIR_ENCRYPTION_KEY."""
    from fhir_server.storage.crypto import generate_key

    click.echo(generate_key())


async def _reseal_auth_secrets(settings: Settings) -> tuple[int, int]:
    """The authorization server's secrets (signing keys, TOTP seeds) and the audit events not yet
    materialized, sealed again with the active key, so `--retire-old` cannot leave them unreadable."""
    from fhir_server.auth.keys import SigningKeys
    from fhir_server.cli.accounts import admin_services
    from fhir_server.storage.audit_log import AuditLogStore

    async with admin_services(settings) as admin:
        signing = SigningKeys(admin.accounts.uow, admin.accounts.sealer)
        resealed = await signing.reseal(), await admin.accounts.reseal_totp_secrets()
        await AuditLogStore(admin.accounts.uow).reseal()
        return resealed


@keys.command("rotate")
@click.option("--retire-old", is_flag=True, help="After re-encrypting, drop the old keys from the keyring file.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100000))
def keys_rotate(retire_old: bool, batch_size: int) -> None:
    """Re-encrypt every stored resource body to a new key, while the server keeps running.

    With a keyring file (the default), a new key is added and made active first. With
    FHIR_ENCRYPTION_KEY, set the new key there and the old one in FHIR_ENCRYPTION_OLD_KEYS, then run this.
    """
    from fhir_server.db.engine import create_engine
    from fhir_server.storage.crypto import EncryptionError, FileKeyring
    from fhir_server.storage.keys import open_keyring, reencrypt_all

    settings = load_settings()

    async def run() -> None:
        asyncio_engine = create_engine(settings.sqlalchemy_url, pool_size=2)
        try:
            keyring = await open_keyring(settings, asyncio_engine)
            if isinstance(keyring, FileKeyring):
                new_id = keyring.add_active_key()
                click.echo(f"added key {new_id} to {keyring.path} and made it active")
            report = await reencrypt_all(asyncio_engine, keyring, batch_size=batch_size)
            click.echo(f"re-encrypted {report.reencrypted} bodies to key {report.active_key_id} "
                       f"in {report.passes} pass(es)")
            signing_keys, totp_secrets = await _reseal_auth_secrets(settings)
            click.echo(f"re-sealed {signing_keys} token signing key(s) and {totp_secrets} TOTP secret(s)")
            if retire_old:
                if not isinstance(keyring, FileKeyring):
                    fail("--retire-old applies to the keyring file; with FHIR_ENCRYPTION_KEY, "
                          "remove FHIR_ENCRYPTION_OLD_KEYS yourself")
                dropped = keyring.retire_keys_except_active()
                click.echo(f"retired key(s): {', '.join(dropped) or 'none'}")
        except EncryptionError as exc:
            fail(str(exc))
        finally:
            await asyncio_engine.dispose()

    asyncio.run(run())
