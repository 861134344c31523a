"""The segment groups of the lab and order messages, read from the flat segment list.

HL7 v2.5.1 §7.3.1 ORU^R01, §7.3.4 OUL^R22, §4.4.6 ORM^O01, §4.4.7 OML^O21 and chapter 3 ADT:

    ORU^R01  MSH { [PID [PD1] [NTE] [NK1] [PV1 [PV2]]] { [ORC] OBR [NTE] [TQ1] { [OBX [NTE]] } { [SPM [OBX]] } } }
    OUL^R22  MSH [PID [PD1] [NTE] [PV1 [PV2]]] { SPM [OBX] [SAC] { OBR [ORC] [NTE] [TQ1] { [OBX [TCD] [NTE]] } } }
    OML^O21  MSH [NTE] [PID … [PV1 [PV2]]] { ORC [TQ1] [OBR [NTE] [DG1] { [OBX [NTE]] } { [SPM [OBX]] }] }
    ORM^O01  MSH [NTE] [PID … [PV1 [PV2]]] { ORC [OBR [NTE] [DG1] { [OBX [NTE]] }] }

An NTE belongs to the closest preceding OBX, else the order (OBR), else the patient. Segments the
mapping does not use (TQ1, CTD, DG1, IN1, Z-segments …) are skipped, not rejected. A segment where its
group cannot be (an OBX before any order in an order message, an OBR under no patient) is a segment
sequence error (table 0357 code 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hl7_gateway.errors import ContentError
from hl7_gateway.message import Message, Segment

__all__ = ["ObservationGroup", "SpecimenGroup", "OrderGroup", "PatientGroup", "read_groups"]


@dataclass
class ObservationGroup:
    obx: Segment
    notes: list[Segment] = field(default_factory=list)


@dataclass
class SpecimenGroup:
    spm: Segment
    observations: list[ObservationGroup] = field(default_factory=list)


@dataclass
class OrderGroup:
    orc: Segment | None = None
    obr: Segment | None = None
    notes: list[Segment] = field(default_factory=list)
    observations: list[ObservationGroup] = field(default_factory=list)
    specimens: list[SpecimenGroup] = field(default_factory=list)
    specimen: SpecimenGroup | None = None
    """OUL^R22: the SPM group this order sits under."""


@dataclass
class PatientGroup:
    pid: Segment | None = None
    pv1: Segment | None = None
    pv2: Segment | None = None
    notes: list[Segment] = field(default_factory=list)
    observations: list[ObservationGroup] = field(default_factory=list)
    orders: list[OrderGroup] = field(default_factory=list)
    specimens: list[SpecimenGroup] = field(default_factory=list)


def read_groups(message: Message, *, specimen_first: bool = False) -> list[PatientGroup]:
    """Group segments into patients, orders, observations and specimens (`specimen_first` for OUL^R22)."""
    patients: list[PatientGroup] = []
    patient: PatientGroup | None = None
    order: OrderGroup | None = None
    specimen: SpecimenGroup | None = None
    last_obs: ObservationGroup | None = None

    def current_patient() -> PatientGroup:
        nonlocal patient
        if patient is None:
            patient = PatientGroup()
            patients.append(patient)
        return patient

    for seg in message.segments[1:]:
        name = seg.name
        if name == "PID":
            patient = PatientGroup(pid=seg)
            patients.append(patient)
            order, specimen, last_obs = None, None, None
        elif name == "PV1" and patient is not None and order is None:
            patient.pv1 = seg
        elif name == "PV2" and patient is not None and order is None:
            patient.pv2 = seg
        elif name == "ORC":
            if specimen_first and order is not None and order.orc is None and order.obr is not None:
                order.orc = seg
            else:
                order = OrderGroup(orc=seg, specimen=specimen if specimen_first else None)
                current_patient().orders.append(order)
                if not specimen_first:
                    specimen = None
            last_obs = None
        elif name == "OBR":
            if order is not None and order.obr is None:
                order.obr = seg
            else:
                order = OrderGroup(obr=seg, specimen=specimen if specimen_first else None)
                current_patient().orders.append(order)
                if not specimen_first:
                    specimen = None
            last_obs = None
        elif name == "SPM":
            specimen = SpecimenGroup(seg)
            if specimen_first:
                current_patient().specimens.append(specimen)
                order = None
            elif order is not None:
                order.specimens.append(specimen)
            else:
                raise ContentError("SPM outside an order group", code=100, location=seg.location())
            last_obs = None
        elif name == "OBX":
            last_obs = ObservationGroup(seg)
            if specimen is not None and (order is None or (not specimen_first and specimen in order.specimens)):
                specimen.observations.append(last_obs)
            elif order is not None:
                order.observations.append(last_obs)
            elif patient is not None:
                patient.observations.append(last_obs)
            else:
                raise ContentError("OBX outside a patient or order group", code=100, location=seg.location())
        elif name == "NTE":
            if last_obs is not None:
                last_obs.notes.append(seg)
            elif order is not None:
                order.notes.append(seg)
            elif patient is not None:
                patient.notes.append(seg)
    return patients
