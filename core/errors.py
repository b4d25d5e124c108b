"""The errors the platform's domains raise, one class per problem type.

Each class carries its HTTP status and its stable problem ``type`` slug, so that the HTTP edge
(``api.problems``) answers any of them as ``application/problem+json`` without knowing the
domain, and the OpenAPI document lists, per operation, the problems it can answer. Domains raise
these; they never build HTTP responses themselves."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a domain raises for its caller to see."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    default_detail: ClassVar[str] = ""

    def __init__(self, detail: str = "", *, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail or self.slug)
        self.headers = dict(headers) if headers else None
        self.extra = extra

    @classmethod
    def title(cls) -> str:
        return HTTPStatus(cls.status).phrase


# 400
class InvalidCursor(DomainError):
    slug = "invalid-cursor"
    default_detail = "the cursor is invalid"


# 401
class Unauthenticated(DomainError):
    status = 401
    slug = "unauthorized"
    default_detail = "a bearer token is required"


class InvalidToken(Unauthenticated):
    slug = "invalid-token"
    default_detail = "the token is invalid or expired"


class InvalidCredentials(Unauthenticated):
    slug = "invalid-credentials"
    default_detail = "unknown user or wrong password"


# 403
class Forbidden(DomainError):
    status = 403
    slug = "forbidden"


class NotTeamMember(Forbidden):
    slug = "not-team-member"
    default_detail = "you are not a member of that team"


# 404: another team's patient answers these too, never 403 (the API contract).
class NotFound(DomainError):
    status = 404
    slug = "not-found"


class PatientNotFound(NotFound):
    slug = "patient-not-found"
    default_detail = "no such patient"


class PauseNotFound(NotFound):
    slug = "pause-not-found"
    default_detail = "no such pause interval"


class DeviceNotFound(NotFound):
    slug = "device-not-found"
    default_detail = "no such device"


class AlertNotFound(NotFound):
    slug = "alert-not-found"
    default_detail = "no such alert"


class ParkedEvaluationNotFound(NotFound):
    slug = "parked-evaluation-not-found"
    default_detail = "no such parked evaluation"


class ThresholdsNotFound(NotFound):
    slug = "thresholds-not-found"
    default_detail = "the patient has no thresholds yet"


# 409
class Conflict(DomainError):
    status = 409
    slug = "conflict"


class AlertStateConflict(Conflict):
    slug = "alert-state-conflict"


class AlertChanged(Conflict):
    """The alert escalated after the nurse saw it: what she decided on is not what it is."""
    slug = "alert-changed"
    default_detail = "the alert has escalated since it was shown; look at it again"


class UserExists(Conflict):
    slug = "user-exists"


# 422
class Unprocessable(DomainError):
    status = 422
    slug = "unprocessable"


class InvalidRange(Unprocessable):
    slug = "invalid-range"
    default_detail = "'to' must be after 'from'"


class RangeTooLong(Unprocessable):
    slug = "range-too-long"


class UnknownProfile(Unprocessable):
    slug = "unknown-profile"


class UnknownType(Unprocessable):
    slug = "unknown-type"


# 429
class TooManyLoginAttempts(DomainError):
    status = 429
    slug = "too-many-login-attempts"
    default_detail = "too many failed logins; try again later"


# 503
class DatabaseUnavailable(DomainError):
    status = 503
    slug = "database-unavailable"
    default_detail = "the database cannot be reached; nothing was changed, try again shortly"


class BrokerUnavailable(DomainError):
    status = 503
    slug = "broker-unavailable"
    default_detail = "the MQTT broker cannot be reached"
