"""Which resources belong to a patient: the R4 Patient CompartmentDefinition, and the policy for the
types outside it.

A resource of type T is in Patient/P's compartment when one of T's compartment parameters (e.g.
Observation: subject, performer) references Patient/P; a Patient is in its own compartment (and in
that of the Patients it `link`s to). https://hl7.org/fhir/R4/compartmentdefinition-patient.html

Types outside the compartment fall in three groups, for callers limited to patients (patient-context
tokens, the patient role, trainees):

- `SHARED_TYPES`: definitional and directory resources that describe no one's care (Practitioner,
  Organization, Location, Medication, Substance, terminology, ...): readable and searchable when the
  scopes allow, never written by such callers.
- `Device`: shared, unless it names a patient (`Device.patient`): then only for that patient.
- everything else (Binary, Bundle, Contract, PaymentNotice, Subscription, ...): refused, since it
  may carry patient data the compartment cannot tell apart.
"""

from __future__ import annotations

from functools import cache

from resources.definitions import patient_compartment

__all__ = ["compartment_params", "in_compartment_types", "SHARED_TYPES", "PATIENT_OWNED_DEVICE_PARAM",
           "is_shared_type"]

SHARED_TYPES = frozenset({
    "Practitioner", "PractitionerRole", "Organization", "OrganizationAffiliation", "Location",
    "HealthcareService", "Endpoint", "Medication", "MedicationKnowledge", "Substance", "SubstanceNucleicAcid",
    "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation", "SubstanceSourceMaterial",
    "SubstanceSpecification", "DeviceDefinition", "DeviceMetric", "MedicinalProduct",
    "MedicinalProductAuthorization", "MedicinalProductContraindication", "MedicinalProductIndication",
    "MedicinalProductIngredient", "MedicinalProductInteraction", "MedicinalProductManufactured",
    "MedicinalProductPackaged", "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect",
    "ActivityDefinition", "PlanDefinition", "Library", "Measure", "Questionnaire", "ObservationDefinition",
    "SpecimenDefinition", "EventDefinition", "ResearchDefinition", "ResearchElementDefinition",
    "ChargeItemDefinition", "CodeSystem", "ValueSet", "ConceptMap", "NamingSystem", "StructureDefinition",
    "StructureMap", "SearchParameter", "OperationDefinition", "CapabilityStatement", "CompartmentDefinition",
    "ImplementationGuide", "GraphDefinition", "MessageDefinition", "TerminologyCapabilities",
    "ExampleScenario", "InsurancePlan", "CatalogEntry", "Evidence", "EvidenceVariable",
    "EffectEvidenceSynthesis", "RiskEvidenceSynthesis", "Slot",
})
# Device is outside the R4 compartment, but an implant names its patient
PATIENT_OWNED_DEVICE_PARAM = ("Device", "patient")


@cache
def _table() -> dict[str, tuple[str, ...]]:
    return {entry["code"]: tuple(entry.get("param", ())) for entry in patient_compartment()["resource"]}


def compartment_params(res_type: str) -> tuple[str, ...]:
    """The search parameters through which a `res_type` belongs to a patient; () when it never does."""
    return _table().get(res_type, ())


def in_compartment_types() -> frozenset[str]:
    return frozenset(t for t, params in _table().items() if params)


def is_shared_type(res_type: str) -> bool:
    return res_type in SHARED_TYPES
