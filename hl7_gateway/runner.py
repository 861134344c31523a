"""Running the gateway inside the server: the database inbox, filing through the transaction service
under the gateway's own system principal, and the MLLP listener.

The gateway writes only through the service layer's transaction code (validation, versioning,
indexing, encryption and change events as for any client; see `hl7_gateway.filing`), never through
SQL of its own.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable

from fhir_server.background import stop
from fhir_server.bootstrap import Runtime
from fhir_server.context import Principal
from fhir_server.long_lived import freeze_startup_heap
from fhir_server.storage.inbox import InboxStore
from fhir_server.wiring import build_validator
from hl7_gateway.db_inbox import DatabaseInbox
from hl7_gateway.filing import BundleFiler
from hl7_gateway.gateway import Gateway
from hl7_gateway.inbox import InboxEntry
from hl7_gateway.mllp import ConnectionShare, MLLPServer
from hl7_gateway.parse import parse_message
from hl7_gateway.retry import RetryPolicy, retry_forever

__all__ = ["GATEWAY_PRINCIPAL", "build_gateway", "serve", "replay", "component"]

log = logging.getLogger("hl7_gateway")

# what the gateway may write: the resources a lab result, an order or an admission maps to
_WRITES = ("Patient", "Practitioner", "Encounter", "ServiceRequest", "Specimen", "DiagnosticReport", "Observation",
           "Provenance")
GATEWAY_PRINCIPAL = Principal(
    subject="hl7-gateway", role="system", client_id="hl7-gateway",
    scopes=frozenset(f"system/{t}.cruds" for t in _WRITES),
)


def build_gateway(runtime: Runtime) -> Gateway:
    base_url = runtime.settings.base_url or f"http://{runtime.settings.host}:{runtime.settings.port}/fhir"
    # the R4 structural validation of the resources the mapping built, without the R4B model layer
    # (nine tenths of the validation's cost); the mapping tests run both layers on every sample
    filer = BundleFiler(runtime.services.bundles, principal=GATEWAY_PRINCIPAL, base_url=base_url,
                        validator=build_validator(with_models=False))
    # the service validates every resource it files, so validating the whole Bundle first would only
    # do that work twice (a fifth of the gateway's CPU per message); invalid content is an AE either way
    return Gateway(inbox=DatabaseInbox(InboxStore(runtime.store)), file_bundle=filer, validate_bundles=False)


async def serve(runtime: Runtime, *, host: str, port: int, ssl: ssl_module.SSLContext | None = None,
                max_frame_bytes: int = 16 * 1024 * 1024, retry: RetryPolicy | None = None,
                sock: socket.socket | None = None, share: ConnectionShare | None = None,
                listening: Callable[[], None] | None = None) -> None:
    """Finish what a previous run left unfinished, then listen (and retry failed messages) until
    cancelled; on `sock` when given (bound by a parent that runs several listener processes, taking
    connections in turn with `share`), calling `listening()` once connections are accepted."""
    gateway = build_gateway(runtime)
    retry = retry or RetryPolicy()
    recovered = await gateway.recover(max_attempts=retry.max_attempts)
    if recovered:
        log.info("HL7 gateway: finished %d message(s) left unfinished by the previous run", recovered)
    freeze_startup_heap()
    retrying = asyncio.create_task(retry_forever(gateway, retry), name="hl7-retry")
    try:
        async with MLLPServer(gateway.handle, host=host, port=port, ssl=ssl, max_frame_bytes=max_frame_bytes,
                              oversize_reply=gateway.oversize_reply, sock=sock, share=share) as server:
            log.info("HL7 v2 MLLP listener on %s:%d", host, server.port)
            if listening is not None:
                listening()
            await server.serve_forever()
    finally:
        await stop(retrying)


async def replay(runtime: Runtime, entry: InboxEntry) -> InboxEntry:
    """Process a stored message again (after a mapping fix); the new outcome is recorded."""
    gateway = build_gateway(runtime)
    message = parse_message(entry.message.raw)
    await gateway.process(message, entry.id, entry.message.received_at, refile=True)
    shown = await gateway.inbox.show(entry.id)
    assert shown is not None
    return shown


async def component(runtime: Runtime) -> None:
    """The listener as an embedded component of `fhir-server all` (the `fhir_server.components` entry point)."""
    await serve(runtime, host=runtime.settings.host, port=runtime.settings.mllp_port)
