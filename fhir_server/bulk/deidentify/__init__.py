"""De-identified research extracts: HIPAA Safe Harbor (or date shifting) with keyed pseudonyms.

    deidentify = Deidentifier(Pseudonymizer(load_or_create_secret(path)), mode="safe-harbor",
                              reference_year=2026, base_url="https://fhir.example.org/fhir")
    clean = deidentify(resource)       # a new resource, or None when nothing can be kept
"""

from fhir_server.bulk.deidentify.pseudonyms import Pseudonymizer, load_or_create_secret
from fhir_server.bulk.deidentify.safe_harbor import AGE_90_URL, MODES, PSEUDED, Deidentifier

__all__ = ["Deidentifier", "Pseudonymizer", "load_or_create_secret", "MODES", "AGE_90_URL", "PSEUDED"]
