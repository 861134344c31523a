"""The `fhir-server` command. Integrators script against these names: keep them stable.

    fhir-server serve [--host H] [--port 8080] [--workers N] [--dev]
    fhir-server migrate
    fhir-server keys rotate [--retire-old] | keys generate
    fhir-server worker | mllp | all
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import sys

import click

from fhir_server.config import Settings

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:  # pydantic's ValidationError: say what is wrong with the configuration
        raise click.ClickException(f"invalid configuration: {exc}") from exc


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _fail(message: str) -> None:
    raise click.ClickException(message)


async def _prepare(settings: Settings) -> None:
    """Migrate (SQLite) and open the keyring once, before any worker process starts."""
    from fhir_server.bootstrap import StartupError, prepare_database
    from fhir_server.db.engine import create_engine
    from fhir_server.storage.crypto import EncryptionError
    from fhir_server.storage.keys import open_keyring, verify_keyring

    try:
        await prepare_database(settings)
        engine = create_engine(settings.sqlalchemy_url, pool_size=1)
        try:
            await verify_keyring(engine, await open_keyring(settings, engine))
        finally:
            await engine.dispose()
    except (StartupError, EncryptionError) as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """FHIR R4 server: REST API, HL7 v2 gateway, job worker and administration."""
    logging.basicConfig(level=os.environ.get("FHIR_LOG_LEVEL", "info").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _check_mode(host: str, dev: bool) -> None:
    if dev:
        if not _is_loopback(host):
            _fail(f"--dev turns access control off, so it only binds to loopback (127.0.0.1 or ::1), not {host}")
        banner = ("!" * 78 + "\n!!  DEV MODE: NO ACCESS CONTROL. Every request is served without a token.\n"
                  "!!  Bound to loopback only; never use this mode with real patient data.\n" + "!" * 78)
        click.echo(click.style(banner, fg="red", bold=True), err=True)
        return
    _fail("access control (SMART on FHIR tokens) is not available in this build yet, so the server will "
          "not serve patient data without it: run `fhir-server serve --dev` for a loopback-only demo")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Loopback-only demo mode without access control.")
def serve(host: str, port: int, workers: int, dev: bool) -> None:
    """Run the FHIR REST API (uvicorn)."""
    import uvicorn

    _check_mode(host, dev)
    if dev:
        os.environ["FHIR_DEV_MODE"] = "true"
    settings = _settings(dev_mode=dev or None)
    asyncio.run(_prepare(settings))
    click.echo(f"FHIR R4 endpoint at http://{host}:{port}/fhir (database: "
               f"{'SQLite in ' + str(settings.data_dir) if settings.is_sqlite else 'PostgreSQL'})", err=True)
    uvicorn.run("fhir_server.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level=settings.log_level, access_log=False, proxy_headers=True)


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from fhir_server.db import migrate as migrations

    settings = _settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.sqlalchemy_url)
    click.echo(f"database at schema revision {migrations.current_revision(settings.sqlalchemy_url)}")


@main.group()
def keys() -> None:
    """Encryption keys of the resource store."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random AES-256 key for FHIR_ENCRYPTION_KEY."""
    from fhir_server.storage.crypto import generate_key

    click.echo(generate_key())


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

    settings = _settings()

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
            if retire_old:
                if not isinstance(keyring, FileKeyring):
                    _fail("--retire-old applies to the keyring file; with FHIR_ENCRYPTION_KEY, "
                          "remove FHIR_ENCRYPTION_OLD_KEYS yourself")
                dropped = keyring.retire_keys_except_active()
                click.echo(f"retired key(s): {', '.join(dropped) or 'none'}")
        except EncryptionError as exc:
            _fail(str(exc))
        finally:
            await asyncio_engine.dispose()

    asyncio.run(run())


@main.command()
def worker() -> None:
    """Run the background job worker."""
    _fail("the job worker has no job kinds in this build yet; it arrives with search reindexing and the AI pipeline")


@main.command()
def mllp() -> None:
    """Run the HL7 v2 MLLP listener."""
    _fail("the HL7 v2 MLLP gateway is not part of this build yet")


@main.command("all")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--dev", is_flag=True, help="Loopback-only demo mode without access control.")
@click.pass_context
def run_all(ctx: click.Context, host: str, port: int, dev: bool) -> None:
    """Run the API, the HL7 listener and the job worker in one process (embedded default)."""
    ctx.invoke(serve, host=host, port=port, workers=1, dev=dev)


if __name__ == "__main__":
    sys.exit(main())
