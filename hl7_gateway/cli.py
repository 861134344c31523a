"""`fhir-server mllp` and `fhir-server hl7 list|show|replay`, registered with the `fhir-server` command
through the `fhir_server.commands` entry point (the server core never imports the gateway)."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fhir_server.bootstrap import Runtime, start_runtime
from fhir_server.cli.common import load_settings, prepare
from fhir_server.config import Settings
from fhir_server.long_lived import run_service
from fhir_server.storage.inbox import InboxStore
from hl7_gateway.db_inbox import DatabaseInbox
from hl7_gateway.inbox import InboxEntry

__all__ = ["mllp", "hl7"]

T = TypeVar("T")


def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    settings = load_settings()
    asyncio.run(prepare(settings))
    return _in_runtime(settings, work)


def _in_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    async def run() -> T:
        runtime = await start_runtime(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return run_service(run())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2575, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--max-frame-bytes", default=16 * 1024 * 1024, show_default=True, type=click.IntRange(1024))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Listener processes sharing the port (one core each).")
def mllp(host: str, port: int, tls_cert: Path | None, tls_key: Path | None, max_frame_bytes: int,
         workers: int) -> None:
    """Run the HL7 v2 MLLP listener: labs send results, the server files them as FHIR."""
    from hl7_gateway.listeners import listening_socket, run_listeners
    from hl7_gateway.runner import serve

    context = None
    if tls_cert or tls_key:
        if not (tls_cert and tls_key):
            raise click.ClickException("TLS needs both --tls-cert and --tls-key")
        context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert, tls_key)
    settings = load_settings()
    asyncio.run(prepare(settings))

    def listen(**shared: Any) -> None:
        _in_runtime(settings, lambda runtime: serve(runtime, host=host, port=port, ssl=context,
                                                    max_frame_bytes=max_frame_bytes, **shared))

    if workers == 1:
        listen()
        return
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    status = run_listeners(workers, lambda listening, share: listen(sock=sock, share=share, listening=listening))
    sock.close()
    if status:
        raise click.ClickException("a listener process could not start; see the log above")


@click.group()
def hl7() -> None:
    """Operate the HL7 v2 inbox: list, show and replay received messages."""


def _inbox(runtime: Runtime) -> DatabaseInbox:
    return DatabaseInbox(InboxStore(runtime.store))


def _line(entry: InboxEntry) -> str:
    message = entry.message
    ack = entry.outcome.ack_code if entry.outcome else "-"
    return (f"{entry.id:>8}  {message.received_at:%Y-%m-%d %H:%M:%S}  {entry.status:<10} {ack:<3} "
            f"{message.message_type:<10} {message.sending_application}/{message.sending_facility}  "
            f"{message.control_id or '-'}")


@hl7.command("list")
@click.option("--status", type=click.Choice(["received", "processed", "rejected", "failed", "duplicate"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
def list_messages(status: str | None, limit: int) -> None:
    """The newest messages in the inbox."""
    entries = _with_runtime(lambda runtime: _inbox(runtime).list(status=status, limit=limit))  # type: ignore[arg-type]
    for entry in entries:
        click.echo(_line(entry))


def _show(entry: InboxEntry) -> None:
    click.echo(_line(entry))
    if entry.outcome:
        for error in entry.outcome.errors:
            where = f" at {error.location}" if error.location else ""
            click.echo(f"  {error.severity} {error.code}{where}: {error.diagnostics}")
    click.echo(entry.message.raw.decode("utf-8", "replace").replace("\r", "\n"))


@hl7.command("show")
@click.argument("entry_id")
def show_message(entry_id: str) -> None:
    """One message: its outcome, errors and raw content."""
    entry = _with_runtime(lambda runtime: _inbox(runtime).show(entry_id))
    if entry is None:
        raise click.ClickException(f"no message {entry_id} in the inbox")
    _show(entry)


@hl7.command("replay")
@click.argument("entry_id")
def replay_message(entry_id: str) -> None:
    """Process a stored message again (after fixing the mapping) and show the new outcome."""
    from hl7_gateway.runner import replay

    async def run(runtime: Runtime) -> Any:
        entry = await _inbox(runtime).show(entry_id)
        if entry is None:
            raise click.ClickException(f"no message {entry_id} in the inbox")
        return await replay(runtime, entry)

    _show(_with_runtime(run))
