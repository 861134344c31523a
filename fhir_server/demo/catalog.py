"""The clinical vocabulary of the demo hospital: departments, vital signs and laboratory tests with their
LOINC codes, UCUM units and plausible ranges, diagnoses (SNOMED CT), and names.

Values are drawn from these ranges; nothing here is real patient data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Department", "Measure", "Panel", "DEPARTMENTS", "VITALS", "BLOOD_PRESSURE", "PANELS",
           "GIVEN_FEMALE", "GIVEN_MALE", "FAMILY", "CITIES", "STREETS", "LOINC", "UCUM", "SNOMED"]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    specialty: tuple[str, str]  # SNOMED CT practitioner specialty (code, display)
    diagnoses: tuple[tuple[str, str], ...]  # SNOMED CT clinical findings (code, display)
    inpatient_share: float


@dataclass(frozen=True, slots=True)
class Measure:
    loinc: str
    display: str
    unit: str  # UCUM code
    low: float  # reference range
    high: float
    spread: tuple[float, float]  # values are drawn from this range
    decimals: int = 0


@dataclass(frozen=True, slots=True)
class Panel:
    loinc: str
    display: str
    measures: tuple[Measure, ...]


DEPARTMENTS = (
    Department("CARD", "Cardiology", ("17561000", "Cardiologist"),
               (("22298006", "Myocardial infarction"), ("49436004", "Atrial fibrillation"),
                ("84114007", "Heart failure"), ("38341003", "Hypertensive disorder")), 0.45),
    Department("MED", "Internal Medicine", ("419192003", "Internal medicine specialist"),
               (("44054006", "Diabetes mellitus type 2"), ("233604007", "Pneumonia"),
                ("709044004", "Chronic kidney disease"), ("68566005", "Urinary tract infection")), 0.35),
    Department("EMER", "Emergency Medicine", ("309294001", "Emergency department physician"),
               (("125605004", "Fracture of bone"), ("91302008", "Sepsis"), ("29857009", "Chest pain"),
                ("62315008", "Diarrhea")), 0.3),
    Department("ONC", "Oncology", ("309295000", "Oncologist"),
               (("254637007", "Non-small cell lung cancer"), ("254837009", "Malignant neoplasm of breast"),
                ("363406005", "Malignant tumor of colon")), 0.5),
    Department("NEU", "Neurology", ("56397003", "Neurologist"),
               (("230690007", "Cerebrovascular accident"), ("84757009", "Epilepsy"),
                ("37796009", "Migraine")), 0.4),
    Department("ICU", "Intensive Care", ("309300002", "Intensive care specialist"),
               (("67782005", "Acute respiratory distress syndrome"), ("91302008", "Sepsis"),
                ("27942005", "Shock")), 1.0),
)

VITALS = (
    Measure("8867-4", "Heart rate", "/min", 60, 100, (48, 135)),
    Measure("9279-1", "Respiratory rate", "/min", 12, 20, (10, 32)),
    Measure("8310-5", "Body temperature", "Cel", 36.1, 37.2, (35.4, 39.8), 1),
    Measure("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 95, 100, (84, 100)),
    Measure("29463-7", "Body weight", "kg", 0, 0, (48, 118), 1),
)

BLOOD_PRESSURE = (
    Measure("85354-9", "Blood pressure panel with all children optional", "mm[Hg]", 0, 0, (0, 0)),
    Measure("8480-6", "Systolic blood pressure", "mm[Hg]", 90, 130, (85, 185)),
    Measure("8462-4", "Diastolic blood pressure", "mm[Hg]", 60, 85, (50, 115)),
)

PANELS = (
    Panel("58410-2", "CBC panel - Blood by Automated count", (
        Measure("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5, (7.5, 18.5), 1),
        Measure("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.0, 11.0, (2.1, 24.0), 1),
        Measure("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400, (60, 520)),
    )),
    Panel("51990-0", "Basic metabolic panel - Blood", (
        Measure("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145, (124, 152)),
        Measure("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1, (2.9, 6.4), 1),
        Measure("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3, (0.4, 4.8), 2),
        Measure("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 100, (58, 340)),
        Measure("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 7, 20, (4, 78)),
    )),
    Panel("24331-1", "Lipid panel with direct LDL - Serum or Plasma", (
        Measure("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 0, 200, (120, 310)),
        Measure("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 0, 150, (45, 420)),
        Measure("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40, 200, (22, 95)),
    )),
)

GIVEN_FEMALE = ("Adaeze", "Maria", "Sofia", "Aisha", "Emma", "Chloe", "Mei", "Olga", "Fatima", "Ingrid",
                "Lucia", "Priya", "Hannah", "Yuki", "Zainab", "Elena", "Grace", "Amara", "Nora", "Leila")
GIVEN_MALE = ("Chidi", "James", "Lukas", "Omar", "Noah", "Mateo", "Wei", "Ivan", "Kwame", "Arjun",
              "Samuel", "Hiroshi", "Tomas", "Elias", "Rafael", "Daniel", "Kofi", "Jonas", "Ali", "Felix")
FAMILY = ("Okafor", "Smith", "Garcia", "Müller", "Khan", "Nguyen", "Kowalski", "Rossi", "Haddad", "Johansson",
          "Silva", "Tanaka", "Mensah", "Ivanova", "Patel", "O'Brien", "Dubois", "Cohen", "Novak", "Hernández",
          "Andersen", "Ibrahim", "Kim", "Papadopoulos", "Osei")
CITIES = (("Leeds", "LS1"), ("York", "YO1"), ("Bradford", "BD1"), ("Harrogate", "HG1"), ("Wakefield", "WF1"))
STREETS = ("Harbour Road", "Station Street", "Park Lane", "Mill Row", "Church View", "Kirkgate", "Victoria Road")
