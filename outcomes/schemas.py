"""The outcome figures as the API answers them: one row per group (a team or the whole
municipality) and period (a calendar month, or the reference year). docs/outcomes.md defines
each figure."""

from __future__ import annotations

from pydantic import BaseModel

SEVERITIES = ("red", "yellow", "blue", "green")
DISPOSITIONS = ("no_action_needed", "advice_by_phone", "home_visit", "gp_contacted", "admitted",
                "measurement_error", "none")


class Figures(BaseModel):
    """One group in one period. Every figure is null when the group is suppressed (fewer
    monitored patients than ``KOL_OUTCOMES_MIN_GROUP``) and rates are null without a
    denominator."""

    period: str
    """``YYYY-MM`` (local month) or ``YYYY`` (the reference year)."""
    suppressed: bool
    patients_monitored: int | None
    patient_years: float | None
    """Monitored time, enrolment to discharge, in years of 365.25 days."""
    admissions: int | None
    admissions_per_patient_year: float | None
    outpatient_visits: int | None
    outpatient_per_patient_year: float | None
    emergency_visits: int | None
    exacerbation_admissions: int | None
    """Acute admissions for a COPD exacerbation (of ``admissions``)."""
    exacerbation_admissions_warned: int | None
    """Of those, the admissions with a red or yellow alert of hers opened in the
    ``alerts.reports.WARNING_DAYS`` days before: the telemonitoring saw it coming."""
    share_warned: float | None
    """``exacerbation_admissions_warned / exacerbation_admissions``."""
    measurements_scheduled: int | None
    measurements_taken: int | None
    adherence: float | None
    """``measurements_taken / measurements_scheduled``."""
    alerts: dict[str, int] | None
    """Alerts opened, by severity."""
    alerts_per_patient_month: dict[str, float] | None
    """By severity, per 30.4375 monitored days."""
    dispositions: dict[str, int] | None
    """Alerts opened in the period by the disposition they were given (``none``: not yet)."""
    red_acknowledged: int | None
    red_ack_p50_minutes: float | None
    red_ack_p90_minutes: float | None
    pro_answers: int | None
    pro_managed: int | None
    pro_share_managed: float | None


class BeforeEnrolment(BaseModel):
    """The 12 months before enrolment, for the patients monitored in the range whose earlier
    admissions are known."""

    suppressed: bool
    patients_known: int | None
    admissions: int | None
    admissions_per_patient_year: float | None


class GroupOutcomes(BaseModel):
    team: str | None
    """The team's name; null for the whole municipality."""
    months: list[Figures]
    reference: Figures
    before_enrolment: BeforeEnrolment


class OutcomesOut(BaseModel):
    months: list[str]
    reference_year: int
    min_group: int
    groups: list[GroupOutcomes]
    """The municipality first, then the teams by name."""
