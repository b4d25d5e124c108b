"""Personal limits in the platform: the proposal shown to the clinician beside the current limits
(with the preview of what each would have raised), the pending proposals of the alert-burden
list, and the automatic personalisation at the end of the run-in for profiles that ask for it.
The numbers come from :mod:`alerts.personal`; accepting a proposal is a normal threshold change
(``PUT …/thresholds``). A clinician turns the automatic personalisation on or off per patient
(audited); without her setting the profile's holds. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from psycopg import Connection

from alerts import personal, repository, thresholds
from alerts.schemas import (
    AutoPersonaliseIn,
    AutoPersonaliseOut,
    PersonalisationRun,
    PreviewIn,
    ProposalBasis,
    ProposalOut,
    ProposalPreview,
    ThresholdArrays,
    ThresholdChange,
    Thresholds,
)
from core import audit, errors
from core.access import SYSTEM, Viewer
from core.measurement_types import TYPE_BY_INDEX


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    patient_id: int
    profile: str
    version: int
    current: Thresholds
    proposed: Thresholds
    changes: list[ThresholdChange]
    measured_from: datetime
    measured_to: datetime
    run_in_days: int
    stats: personal.RunInStatistics
    index: int
    """This patient's row in ``stats``."""


def _proposals(conn: Connection[Any], viewer: Viewer, patient_ids: list[int], *,
               now: datetime | None, run_in: personal.RunIn = personal.DEFAULT_RUN_IN
               ) -> list[Proposal]:
    """Proposals for the visible ``patient_ids``: from the readings of the last ``run_in_days``
    before ``now`` or, with ``now=None``, of each patient's run-in (enrolment + run-in days)."""
    subjects = repository.personalisation_subjects(conn, viewer, patient_ids)
    if not subjects:
        return []
    if now is None:
        starts = [s["created_at"] for s in subjects]
        ends = [s["created_at"] + timedelta(days=s["run_in_days"]) for s in subjects]
    else:
        starts = [now - timedelta(days=s["run_in_days"]) for s in subjects]
        ends = [now] * len(subjects)
    ids = np.array([s["patient_id"] for s in subjects], np.int64)
    stored = repository.history_windows(
        conn, patient_ids=ids, start=_utc64(starts), end=_utc64(ends))
    index = np.searchsorted(ids, stored.patient_id)  # subjects are ordered by id
    stats = personal.run_in_statistics(index, stored.type_index, stored.measured_at,
                                       stored.value, len(subjects), run_in)
    docs = [Thresholds.model_validate(s["thresholds"]) for s in subjects]
    arrays = ThresholdArrays.from_documents(docs)
    out: list[Proposal] = []
    for profile in {s["profile"] for s in subjects}:  # a handful of profiles
        safety = personal.SAFETY.get(profile, personal.SAFETY["kol-standard"])
        limits = personal.propose(stats, arrays, safety, run_in)
        for i, s in enumerate(subjects):
            if s["profile"] != profile:
                continue
            proposed = personal.apply(docs[i], limits, i)
            out.append(Proposal(
                patient_id=s["patient_id"], profile=profile, version=s["version"],
                current=docs[i], proposed=proposed,
                changes=thresholds.diff(docs[i].model_dump(), proposed.model_dump()),
                measured_from=starts[i], measured_to=ends[i], run_in_days=s["run_in_days"],
                stats=stats, index=i))
    out.sort(key=lambda p: p.patient_id)
    return out


def _utc64(moments: list[datetime]) -> np.ndarray:
    return np.array([m.astimezone(UTC).replace(tzinfo=None) for m in moments], "datetime64[us]")


def proposal(conn: Connection[Any], viewer: Viewer, patient_id: int, *, days: int = 90,
             now: datetime | None = None) -> ProposalOut:
    """The proposal from the last run-in length of readings, beside the current limits, with the
    preview of the alerts each would have raised over the last ``days`` days."""
    now = now or datetime.now(UTC)
    found = _proposals(conn, viewer, [patient_id], now=now)
    if not found:
        raise errors.PatientNotFound()
    p = found[0]
    s, i = p.stats, p.index
    codes = [t.code for t in TYPE_BY_INDEX]
    counts = dict(zip(codes, (s.spo2_n[i], s.pulse_n[i], s.weight_n[i]), strict=True))
    medians = {"spo2": s.spo2_median[i], "pulse": s.pulse_median[i]}
    sds = {"spo2": s.spo2_sd[i], "pulse": s.pulse_sd[i], "weight": s.weight_sd[i]}
    safety = personal.SAFETY.get(p.profile, personal.SAFETY["kol-standard"])
    basis = ProposalBasis(
        measured_from=p.measured_from, measured_to=p.measured_to, run_in_days=p.run_in_days,
        min_readings=personal.DEFAULT_RUN_IN.min_sessions,
        ready=bool(max(counts.values()) >= personal.DEFAULT_RUN_IN.min_sessions),
        readings={k: int(v) for k, v in counts.items()},
        median={k: _finite(v) for k, v in medians.items()},
        sd={k: _finite(v) for k, v in sds.items()},
        safety={f: float(getattr(safety, f)) for f in personal.SafetyLimits.__dataclass_fields__})
    preview = ProposalPreview(
        current=thresholds.preview(conn, viewer, patient_id,
                                   PreviewIn(thresholds=p.current, days=days), now=now),
        proposed=thresholds.preview(conn, viewer, patient_id,
                                    PreviewIn(thresholds=p.proposed, days=days), now=now))
    return ProposalOut(patient_id=patient_id, current_version=p.version, thresholds=p.proposed,
                       changes=p.changes, basis=basis, preview=preview)


def _finite(value: float) -> float | None:
    return round(float(value), 2) if np.isfinite(value) else None


def pending_changes(conn: Connection[Any], viewer: Viewer, patient_ids: list[int], *,
                    now: datetime) -> dict[int, list[ThresholdChange]]:
    """What personal limits would change now, per visible patient (empty: nothing)."""
    return {p.patient_id: p.changes for p in _proposals(conn, viewer, patient_ids, now=now)}


def personalise_due(conn: Connection[Any], *, now: datetime, limit: int = 100) -> dict[str, int]:
    """Apply the run-in proposal of every patient whose profile has ``auto_personalise`` and
    whose run-in has ended: a new threshold version by the platform with the reason, audited as
    the system. Every patient is considered once (``personalisations`` records the outcome)."""
    due = repository.patients_due_for_personalisation(conn, now=now, limit=limit)
    outcomes = {"applied": 0, "nothing_to_change": 0, "too_few_readings": 0}
    for p in _proposals(conn, SYSTEM, due, now=None):  # at most ``limit`` patients
        s, i = p.stats, p.index
        enough = max(s.spo2_n[i], s.pulse_n[i], s.weight_n[i]) >= (
            personal.DEFAULT_RUN_IN.min_sessions)
        version: int | None = None
        if p.changes:
            reason = (f"automatic personalisation after the {p.run_in_days}-day run-in"
                      f" ({p.measured_from:%Y-%m-%d} to {p.measured_to:%Y-%m-%d}): "
                      + "; ".join(f"{c.path} {c.old} -> {c.new}" for c in p.changes))
            row = repository.insert_threshold_version(
                conn, patient_id=p.patient_id, thresholds=p.proposed.model_dump(),
                changed_by=None, reason=reason)
            version = row["version"]
            audit.record(conn, viewer=SYSTEM, action="thresholds.personalise",
                         entity_type="patient", entity_id=p.patient_id, detail={
                             "version": version, "previous_version": p.version,
                             "reason": reason, "diff": [c.model_dump() for c in p.changes]})
            outcome = "applied"
        else:
            outcome = "nothing_to_change" if enough else "too_few_readings"
        repository.insert_personalisation(conn, patient_id=p.patient_id, version=version,
                                          outcome=outcome)
        outcomes[outcome] += 1
    return outcomes


def auto_personalise(conn: Connection[Any], viewer: Viewer, patient_id: int
                     ) -> AutoPersonaliseOut:
    """Whether the platform personalises this patient at the end of her run-in, and why (her own
    setting or her profile's), and the outcome once it has run."""
    row = repository.auto_personalise_setting(conn, viewer, patient_id)
    if row is None:
        raise errors.PatientNotFound()
    own = row["setting"]
    run = None if row["outcome"] is None else PersonalisationRun(
        outcome=row["outcome"], ran_at=row["ran_at"], version=row["version"])
    return AutoPersonaliseOut(
        patient_id=patient_id, enabled=row["profile_default"] if own is None else own,
        source="profile" if own is None else "patient", profile=row["profile"],
        profile_default=row["profile_default"], run_in_days=row["run_in_days"],
        run_in_ends_at=row["created_at"] + timedelta(days=row["run_in_days"]),
        changed_by=row["changed_by"], changed_at=row["changed_at"], reason=row["reason"],
        personalisation=run)


def set_auto_personalise(conn: Connection[Any], viewer: Viewer, patient_id: int,
                         data: AutoPersonaliseIn) -> AutoPersonaliseOut:
    """The clinician's setting for one patient, audited with the reason. Turning it on after the
    personalisation has run is refused: it runs once, and the proposal serves from then on."""
    before = auto_personalise(conn, viewer, patient_id)
    if data.enabled and before.personalisation is not None:
        raise errors.PersonalisationDone()
    repository.set_auto_personalise(conn, patient_id=patient_id, enabled=data.enabled,
                                    changed_by=viewer.user_id, reason=data.reason)
    audit.record(conn, viewer=viewer, action="thresholds.auto_personalise",
                 entity_type="patient", entity_id=patient_id, detail={
                     "enabled": data.enabled, "previous": before.enabled,
                     "previous_source": before.source, "reason": data.reason})
    return auto_personalise(conn, viewer, patient_id)
