"""Vendored conformance content: the US Core 5.0.1 StructureDefinitions (see README.md)."""
