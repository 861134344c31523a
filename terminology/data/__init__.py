"""Vendored terminology content (R4 CodeSystems, ValueSets, ConceptMaps, OperationDefinitions; the LOINC,
SNOMED CT and ICD-10 subsets). Read through `terminology.content`; see README.md in this folder."""
