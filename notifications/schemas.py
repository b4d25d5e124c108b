"""Shapes of the notification domain: the team's policy document, rota and escalation chain as
the API takes and returns them, contacts, push subscriptions, deliveries, and the message a
channel sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from core.inputs import Integer

Channel = Literal["email", "sms", "push"]
EMAIL = r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+$"
PUSH_ENDPOINT = r"^https?://[^\s\x00-\x1f]+$"
"""A push service's URL (no whitespace, no control characters)."""
DeliveryStatus = Literal["queued", "sending", "sent", "failed", "gave_up", "cancelled",
                         "collapsed", "summarised"]


def _local(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a local wall-clock time (Europe/Copenhagen) without an offset")
    return value


LocalTime = Annotated[time, AfterValidator(_local), WithJsonSchema({
    "type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
    "description": "A local wall-clock time in Europe/Copenhagen, HH:MM[:SS], without an offset",
    "examples": ["07:30"]})]
"""A wall-clock time in the platform's timezone: an offset would be ambiguous across daylight
saving, so it is refused."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityPolicy(_Strict):
    mode: Literal["escalate", "day_or_digest", "digest", "off"]
    """``escalate``: the chain's first step at once, then the next steps until acknowledged;
    ``day_or_digest``: the first step at once in day hours, otherwise the morning digest;
    ``digest``: the daily digest; ``off``: never."""
    channels: list[Channel] = Field(min_length=1)
    repeat_minutes: Integer = Field(default=15, ge=0, le=240)
    """``escalate``: after the chain's last step, its target is reached again this often
    (0: not at all) until someone acknowledges, at most ``max_repeats`` times."""
    max_repeats: Integer = Field(default=4, ge=0, le=20)


class TeamPolicy(_Strict):
    """A team's notification policy. The defaults are what a team gets until its admin edits it."""

    red: SeverityPolicy = SeverityPolicy(mode="escalate", channels=["sms", "push", "email"])
    yellow: SeverityPolicy = SeverityPolicy(mode="day_or_digest", channels=["push", "email"])
    blue: SeverityPolicy = SeverityPolicy(mode="digest", channels=["email"])
    day_starts: LocalTime = time(8, 0)
    day_ends: LocalTime = time(16, 0)
    """Day hours (local, ``day_starts`` before ``day_ends``): a yellow alert raised outside them
    waits for the morning digest."""
    morning_digest_at: LocalTime = time(8, 0)
    daily_digest_at: LocalTime = time(13, 0)
    """Blue (missing measurement) alerts of the day, after the usual 12:00 deadline."""
    collapse_minutes: Integer = Field(default=15, ge=0, le=240)
    """A further alert of a patient already notified to a person within this window is not
    sent again to her (its escalation still runs)."""
    flood_window_minutes: Integer = Field(default=15, ge=1, le=240)
    flood_max_messages: Integer = Field(default=5, ge=1, le=100)
    """At most this many alert messages per person and channel in a window; the rest are
    summarised in one message at the window's end."""

    @model_validator(mode="after")
    def _day(self) -> Self:
        if not self.day_starts < self.day_ends:
            raise ValueError("day_starts must be before day_ends")
        return self

    def for_severity(self, severity: str) -> SeverityPolicy:
        policy: SeverityPolicy = getattr(self, severity)
        return policy


DayKind = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"]


class RotaSlotIn(_Strict):
    user_id: Integer
    role: Literal["primary", "secondary"]
    day: DayKind
    starts: LocalTime
    ends: LocalTime
    """At or before ``starts``: the slot runs past midnight into the next day."""


class RotaSlotOut(RotaSlotIn):
    username: str


class RotaIn(_Strict):
    slots: list[RotaSlotIn] = Field(max_length=500)


class EscalationStepIn(_Strict):
    """One step: the on-call ``primary`` or ``secondary`` at the time of the step, or the named
    ``user`` (``user_id`` is given exactly for target ``user``)."""

    target: Literal["primary", "secondary", "user"]
    user_id: Integer | None = None
    after_minutes: Integer = Field(ge=0, le=1440)

    @model_validator(mode="after")
    def _user(self) -> Self:
        if (self.target == "user") != (self.user_id is not None):
            raise ValueError("user_id is given exactly for target 'user'")
        return self


class EscalationIn(_Strict):
    """The whole chain, replacing the team's; ``after_minutes`` must not decrease along it."""

    steps: list[EscalationStepIn] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _order(self) -> Self:
        minutes = [s.after_minutes for s in self.steps]
        if minutes != sorted(minutes):
            raise ValueError("after_minutes must not decrease along the chain")
        return self


class EscalationStepOut(EscalationStepIn):
    step: int
    username: str | None = None


class TeamMember(BaseModel):
    id: int
    username: str
    display_name: str
    role: str


class OnCallNow(BaseModel):
    at: datetime
    public_holiday: str | None
    primary: list[int]
    secondary: list[int]


class TeamNotificationsOut(BaseModel):
    """Everything the team admin's editor shows."""

    team_id: int
    team: str
    members: list[TeamMember]
    rota: list[RotaSlotOut]
    escalation: list[EscalationStepOut]
    policy: TeamPolicy
    policy_is_default: bool
    on_call_now: OnCallNow


class ContactIn(_Strict):
    email: str | None = Field(default=None, pattern=EMAIL,
                              max_length=254)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    """E.164, e.g. +4520123456."""


class ContactOut(ContactIn):
    push_subscriptions: int


class PushKeys(_Strict):
    p256dh: str = Field(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+={0,2}$")
    auth: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_-]+={0,2}$")


class PushSubscriptionIn(BaseModel):
    """What the browser's ``PushSubscription.toJSON()`` gives."""

    model_config = ConfigDict(extra="ignore")
    endpoint: str = Field(pattern=PUSH_ENDPOINT, max_length=2000)
    keys: PushKeys


class VapidKeyOut(BaseModel):
    public_key: str
    """The application server key, base64url (uncompressed P-256 point)."""


class DeliveryOut(BaseModel):
    id: int
    kind: str
    alert_id: int | None
    step: int | None
    user_id: int
    username: str
    channel: Channel
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class AlertNotificationsOut(BaseModel):
    alert_id: int
    patient_id: int
    chain_state: str | None
    chain_mode: str | None
    next_step: int | None
    next_due_at: datetime | None
    stop_reason: str | None
    deliveries: list[DeliveryOut]


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message to one address over one channel. No health data and no CPR: the severity,
    the team and a link that requires login."""

    idempotency_key: str
    channel: str
    address: str
    subject: str
    body: str
    url: str
    push_p256dh: str | None = None
    push_auth: str | None = None
