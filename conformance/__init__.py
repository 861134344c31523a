"""What the server claims about itself: the CapabilityStatement (and, later, profile validation)."""

from conformance.capability import OperationSupport, SearchParamSupport, ServerSupport, capability_statement

__all__ = ["ServerSupport", "SearchParamSupport", "OperationSupport", "capability_statement"]
