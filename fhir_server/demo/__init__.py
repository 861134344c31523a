"""A realistic, deterministic demo data set (`fhir-server demo`), loaded through the bulk importer."""

from fhir_server.demo.generator import FILES, generate

__all__ = ["generate", "FILES"]
