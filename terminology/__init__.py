"""Terminology: CodeSystems, ValueSets and ConceptMaps, and the operations on them.

    from terminology import TerminologyStore, lookup, value_set_validate_code, expand, subsumes, translate

    store = TerminologyStore()    # R4 code systems / value sets / concept maps, LOINC, SNOMED CT, ICD-10 subsets
    lookup(store, system="http://loinc.org", code="2160-0")            # -> Parameters
    expand(store, url="http://hl7.org/fhir/ValueSet/administrative-gender", count=10)   # -> ValueSet
    store.codes_in(url), store.descendants(system, code), store.ancestors(system, code)  # for search

Each operation is a pure function of the store and the spec's parameters (snake case) returning a FHIR
resource dict; errors are the server's own (`fhir_server.errors`): NotFound for an unknown code system,
value set or concept map, BadRequest for missing or conflicting parameters, Unprocessable with
`too-costly` for an expansion past the store's limit. `OPERATIONS` and `operation_definitions()` serve
whoever routes `$operation` requests. UCUM lives in `terminology.ucum`.
"""

from terminology.code_system import CodeSystem, Concept
from terminology.expand import expand
from terminology.filters import HIERARCHY_OPERATORS
from terminology.filters import OPERATORS as FILTER_OPERATORS
from terminology.lookup import lookup
from terminology.operations import OPERATIONS, Operation, operation_definitions
from terminology.parameters import arguments
from terminology.store import DEFAULT_EXPANSION_LIMIT, TerminologyStore
from terminology.subsumes import subsumes
from terminology.translate import translate
from terminology.validate_code import code_system_validate_code, value_set_validate_code
from terminology.value_set import CompiledValueSet, Member

__all__ = [
    "TerminologyStore", "DEFAULT_EXPANSION_LIMIT", "CodeSystem", "Concept", "CompiledValueSet", "Member",
    "lookup", "code_system_validate_code", "value_set_validate_code", "expand", "subsumes", "translate",
    "OPERATIONS", "Operation", "operation_definitions", "arguments", "FILTER_OPERATORS", "HIERARCHY_OPERATORS",
]
