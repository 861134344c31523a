"""The outcomes the rules predict, coded in SNOMED CT (international edition) and WHO ICD-10.

One place for the codes, so a RiskAssessment's prediction.outcome and a Condition the clinician later
confirms use the same concepts. ICD-10 is the WHO edition (system http://hl7.org/fhir/sid/icd-10), so
CKD stage 3 is N18.3 for both G3a and G3b (ICD-10-CM's N18.31/N18.32 are a US extension).
"""

from __future__ import annotations

from ai_pipeline.rules.model import Outcome

__all__ = ["CKD", "CKD_BY_G", "KIDNEY_FAILURE", "AKI", "DIABETES", "PREDIABETES", "ANAEMIA",
           "HYPERKALAEMIA", "HYPONATRAEMIA", "DETERIORATION", "SEPSIS"]

CKD = Outcome("Chronic kidney disease", "709044004", "Chronic kidney disease", "N18.9",
              "Chronic kidney disease, unspecified")
CKD_BY_G = {
    "G1": Outcome("Chronic kidney disease stage 1", "431855005", "Chronic kidney disease stage 1", "N18.1",
                  "Chronic kidney disease, stage 1"),
    "G2": Outcome("Chronic kidney disease stage 2", "431856006", "Chronic kidney disease stage 2", "N18.2",
                  "Chronic kidney disease, stage 2"),
    "G3a": Outcome("Chronic kidney disease stage 3a", "700378005", "Chronic kidney disease stage 3A", "N18.3",
                   "Chronic kidney disease, stage 3"),
    "G3b": Outcome("Chronic kidney disease stage 3b", "700379002", "Chronic kidney disease stage 3B", "N18.3",
                   "Chronic kidney disease, stage 3"),
    "G4": Outcome("Chronic kidney disease stage 4", "431857002", "Chronic kidney disease stage 4", "N18.4",
                  "Chronic kidney disease, stage 4"),
    "G5": Outcome("Chronic kidney disease stage 5", "433146000", "Chronic kidney disease stage 5", "N18.5",
                  "Chronic kidney disease, stage 5"),
}
KIDNEY_FAILURE = Outcome("Kidney failure needing dialysis or transplant", "46177005", "End-stage renal disease",
                         "N18.5", "Chronic kidney disease, stage 5")
AKI = Outcome("Acute kidney injury", "14669001", "Acute kidney injury", "N17.9", "Acute renal failure, unspecified")
DIABETES = Outcome("Diabetes mellitus", "73211009", "Diabetes mellitus", "E14",
                   "Unspecified diabetes mellitus")
PREDIABETES = Outcome("Prediabetes", "714628002", "Prediabetes", "R73.0", "Abnormal glucose tolerance test")
ANAEMIA = Outcome("Anaemia", "271737000", "Anemia", "D64.9", "Anaemia, unspecified")
HYPERKALAEMIA = Outcome("Hyperkalaemia", "14140009", "Hyperkalemia", "E87.5", "Hyperkalaemia")
HYPONATRAEMIA = Outcome("Hyponatraemia", "89627008", "Hyponatremia", "E87.1", "Hypo-osmolality and hyponatraemia")
DETERIORATION = Outcome("Acute clinical deterioration (death, cardiac arrest or unplanned ICU admission)",
                        "271299001", "Patient's condition worsened")
SEPSIS = Outcome("Sepsis with poor outcome (in-hospital death or ICU stay of 3 days or more)", "91302008",
                 "Sepsis", "A41.9", "Sepsis, unspecified")
