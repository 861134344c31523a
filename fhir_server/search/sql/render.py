"""Search statements as SQL text and positional parameters: the storage layer's renderer
(`fhir_server.storage.statements`), compiled once per statement shape."""

from __future__ import annotations

from fhir_server.storage.statements import Renderer

__all__ = ["Renderer"]
