"""Running the gateway inside the server: the database inbox, filing through the transaction service
under the gateway's own system principal, and the MLLP listener.

The gateway writes only through `services.bundles` (validation, versioning, indexing, encryption and
change events as for any client), never through SQL of its own.
"""

from __future__ import annotations

import logging
import ssl as ssl_module
from typing import Any

from fhir_server.bootstrap import Runtime
from fhir_server.context import Principal, RequestContext
from fhir_server.storage.inbox import InboxStore
from hl7_gateway.db_inbox import DatabaseInbox
from hl7_gateway.gateway import Gateway
from hl7_gateway.inbox import InboxEntry
from hl7_gateway.mllp import MLLPServer
from hl7_gateway.parse import parse_message
from resources import fhir_json

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
    ctx = RequestContext(principal=GATEWAY_PRINCIPAL, base_url=base_url)

    async def file_bundle(bundle: dict[str, Any]) -> list[str]:
        """File one message's transaction Bundle; returns the locations written."""
        response = fhir_json.loads(await runtime.services.bundles.process(ctx, bundle, prefer_return="minimal"))
        return [entry["response"].get("location", "") for entry in response.get("entry", [])]

    return Gateway(inbox=DatabaseInbox(InboxStore(runtime.store)), file_bundle=file_bundle)


async def serve(runtime: Runtime, *, host: str, port: int, ssl: ssl_module.SSLContext | None = None,
                max_frame_bytes: int = 16 * 1024 * 1024) -> None:
    """Finish what a previous run left unfinished, then listen until cancelled."""
    gateway = build_gateway(runtime)
    recovered = await gateway.recover()
    if recovered:
        log.info("HL7 gateway: finished %d message(s) left unfinished by the previous run", recovered)
    async with MLLPServer(gateway.handle, host=host, port=port, ssl=ssl, max_frame_bytes=max_frame_bytes,
                          oversize_reply=gateway.oversize_reply) as server:
        log.info("HL7 v2 MLLP listener on %s:%d", host, server.port)
        await server.serve_forever()


async def replay(runtime: Runtime, entry: InboxEntry) -> InboxEntry:
    """Process a stored message again (after a mapping fix) and record the new outcome."""
    gateway = build_gateway(runtime)
    message = parse_message(entry.message.raw)
    outcome = await gateway.process(message, entry.id, entry.message.received_at)
    await gateway.inbox.record_outcome(entry.id, outcome)
    shown = await gateway.inbox.show(entry.id)
    assert shown is not None
    return shown


async def component(runtime: Runtime) -> None:
    """The listener as an embedded component of `fhir-server all` (the `fhir_server.components` entry point)."""
    await serve(runtime, host=runtime.settings.host, port=runtime.settings.mllp_port)
