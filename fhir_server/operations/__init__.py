"""FHIR $operations: a registry, Parameters handling, and one module per operation."""

from fhir_server.operations.parameters import OperationInput, to_parameters
from fhir_server.operations.registry import Operation, OperationCall, OperationRegistry, OperationResult

__all__ = ["Operation", "OperationCall", "OperationInput", "OperationRegistry", "OperationResult", "to_parameters"]
