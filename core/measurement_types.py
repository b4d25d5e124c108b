"""The measurement-type registry: the one table that says which readings exist, in which unit,
what range is physically plausible, and how each type is coded in LOINC, NPU and IEEE 11073.
Adding a type (temperature, FEV1, respiratory rate, a symptom score) means adding one row here."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementType:
    code: str
    index: int
    """Small integer used for the type in numeric arrays (alert engine) and in the database."""
    unit: str
    ucum: str
    min_value: float
    max_value: float
    loinc: str
    loinc_display: str
    npu: str
    npu_display: str
    mdc: int
    display_en: str
    display_da: str


MEASUREMENT_TYPES: MappingProxyType[str, MeasurementType] = MappingProxyType({
    t.code: t
    for t in (
        MeasurementType(
            code="spo2", index=0, unit="%", ucum="%", min_value=50, max_value=100,
            loinc="59408-5",
            loinc_display="Oxygen saturation in Arterial blood by Pulse oximetry",
            npu="NPU03011", npu_display="Hb(Fe; O2-bind.;aB)—Oxygen(O2); sat.(Pulse oximetry)",
            mdc=150456, display_en="SpO2", display_da="Iltmætning",
        ),
        MeasurementType(
            code="pulse", index=1, unit="/min", ucum="/min", min_value=20, max_value=250,
            loinc="8867-4", loinc_display="Heart rate",
            npu="NPU21692", npu_display="Heart—Systole; frequency = ? × 1/min",
            mdc=149530, display_en="Pulse", display_da="Puls",
        ),
        MeasurementType(
            code="weight", index=2, unit="kg", ucum="kg", min_value=20, max_value=350,
            loinc="29463-7", loinc_display="Body weight",
            npu="NPU03804", npu_display="Pt—Body; mass = ? kg",
            mdc=188736, display_en="Weight", display_da="Vægt",
        ),
    )
})

TYPE_BY_INDEX: tuple[MeasurementType, ...] = tuple(
    sorted(MEASUREMENT_TYPES.values(), key=lambda t: t.index)
)
assert [t.index for t in TYPE_BY_INDEX] == list(range(len(TYPE_BY_INDEX))), "indices must be dense"
