"""What the server claims about itself (the CapabilityStatement and the TerminologyCapabilities), and
the validation `$validate` adds: R4 invariants and the profiles the server knows."""

from conformance.capability import OperationSupport, SearchParamSupport, ServerSupport, capability_statement
from conformance.profiles import Profiles
from conformance.terminology_capabilities import terminology_capabilities
from conformance.validation import ResourceValidation

__all__ = ["ServerSupport", "SearchParamSupport", "OperationSupport", "capability_statement",
           "terminology_capabilities", "Profiles", "ResourceValidation"]
