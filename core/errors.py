"""The errors the platform's domains raise, one class per problem type.

Each class carries its HTTP status, its stable problem ``type`` slug, the headers every answer of
it carries, and (its docstring) when it happens. The HTTP edge (``api.problems``) answers any of
them as ``application/problem+json`` without knowing the domain, and the OpenAPI document
(``api.openapi``) lists per operation the problems that the operation's code raises, read from
the ``raise`` statements themselves: raising one of these is all it takes to have it answered and
documented. Domains raise these; they never build HTTP responses themselves."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a domain raises for its caller to see."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    default_detail: ClassVar[str] = ""
    response_headers: ClassVar[Mapping[str, str]] = {}
    """Headers every answer of this problem carries: name → what it says (documented)."""
    default_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, detail: str = "", *, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail or self.slug)
        self.headers = {**self.default_headers, **(headers or {})} or None
        missing = set(self.response_headers) - set(self.headers or {})
        assert not missing, f"{self.slug} must send {sorted(missing)}"
        self.extra = extra

    @classmethod
    def title(cls) -> str:
        return HTTPStatus(cls.status).phrase

    @classmethod
    def summary(cls) -> str:
        """When it happens: the class docstring, for the documentation."""
        return " ".join((cls.__doc__ or cls.default_detail or cls.title()).split())


# 400
class MalformedBody(DomainError):
    """The request body could not be parsed (invalid UTF-8, a broken form)."""

    slug = "malformed-body"
    default_detail = "the request body could not be parsed"


# 401: every one tells the client how to authenticate.
class Unauthenticated(DomainError):
    """No bearer token was sent."""

    status = 401
    slug = "unauthorized"
    default_detail = "a bearer token is required"
    response_headers = {"WWW-Authenticate": "`Bearer`: log in at `POST /api/v1/auth/token`"}
    default_headers = {"WWW-Authenticate": "Bearer"}


class InvalidToken(Unauthenticated):
    """The token is malformed, badly signed, expired, or its user is no longer active."""

    slug = "invalid-token"
    default_detail = "the token is invalid or expired"


class InvalidCredentials(Unauthenticated):
    """Unknown username, wrong password or a deactivated user (not told apart)."""

    slug = "invalid-credentials"
    default_detail = "unknown user or wrong password"


class DeviceUnauthenticated(Unauthenticated):
    """A tablet's request without its device credentials (HTTP Basic: device id and MQTT
    password), with wrong ones, or from a deactivated device (docs/tablet.md)."""

    slug = "device-unauthenticated"
    default_detail = "unknown or deactivated device, or wrong device secret"
    response_headers = {"WWW-Authenticate": "`Device`: send the device id and its MQTT password"
                                            " with the `Basic` scheme"}
    # Not `Basic` in the challenge: a browser answers that with its own login dialog over the
    # tablet app (and a failed fetch), instead of handing the app the 401.
    default_headers = {"WWW-Authenticate": 'Device realm="kol-device"'}


class SessionEnded(Unauthenticated):
    """The dashboard session has ended (logged out, idle, expired, its user deactivated, its
    refresh token reused or missing): log in again."""

    slug = "session-ended"
    default_detail = "the session has ended; log in again"


# 403
class Forbidden(DomainError):
    """The user's role is below the one the operation needs."""

    status = 403
    slug = "forbidden"


class NoConsentToShare(Forbidden):
    """The citizen has not consented to sharing her data with the recipient asked for (or has
    withdrawn that consent)."""

    slug = "no-consent-to-share"
    default_detail = "the citizen has not consented to sharing her data with this recipient"


class NotTeamMember(Forbidden):
    """The patient would be enrolled into an existing team the user is not a member of."""

    slug = "not-team-member"
    default_detail = "you are not a member of that team"


class NotTeamAdmin(Forbidden):
    """A member of the team who is not its admin tried to change its rota, escalation chain or
    notification policy."""

    slug = "not-team-admin"
    default_detail = "only an admin of the team may change its rota, chain and policy"


# 404: another team's patient answers these too, never 403 (the API contract).
class NotFound(DomainError):
    """No such resource (or not in the user's teams)."""

    status = 404
    slug = "not-found"


class PatientNotFound(NotFound):
    """No such patient, or the patient is in none of the user's teams."""

    slug = "patient-not-found"
    default_detail = "no such patient"


class MessageNotFound(NotFound):
    """The message replied to is not one of the patient's own messages (docs/messages.md)."""

    slug = "message-not-found"
    default_detail = "no such message from this patient"


class PauseNotFound(NotFound):
    """The patient has no such pause interval."""

    slug = "pause-not-found"
    default_detail = "no such pause interval"


class ConsentNotFound(NotFound):
    """The patient has no such standing consent (it was withdrawn already, or never given)."""

    slug = "consent-not-found"
    default_detail = "no such standing consent"


class CareEventNotFound(NotFound):
    """The patient has no such standing care event (it was withdrawn or corrected already, or
    never recorded)."""

    slug = "care-event-not-found"
    default_detail = "no such standing care event"


class DeviceNotFound(NotFound):
    """No such device."""

    slug = "device-not-found"
    default_detail = "no such device"


class AlertNotFound(NotFound):
    """No such alert, or its patient is in none of the user's teams."""

    slug = "alert-not-found"
    default_detail = "no such alert"


class ParkedEvaluationNotFound(NotFound):
    """No parked alert evaluation with that id (it was retried or never parked)."""

    slug = "parked-evaluation-not-found"
    default_detail = "no such parked evaluation"


class TeamNotFound(NotFound):
    """No such team, or the user is not a member of it."""

    slug = "team-not-found"
    default_detail = "no such team"


class PushSubscriptionNotFound(NotFound):
    """The user has no Web Push subscription with that endpoint."""

    slug = "push-subscription-not-found"
    default_detail = "no such push subscription"


class ThresholdsNotFound(NotFound):
    """The patient has no thresholds yet."""

    slug = "thresholds-not-found"
    default_detail = "the patient has no thresholds yet"


class QuestionnaireNotFound(NotFound):
    """No questionnaire is registered under this id."""

    slug = "questionnaire-not-found"
    default_detail = "no questionnaire with this id"


class InvalidResetCode(NotFound):
    """No such one-time password code: unknown, used or expired."""

    slug = "invalid-reset-code"
    default_detail = "the code is unknown, used or expired; ask an admin for a new one"


class UserNotFound(NotFound):
    """No such user, or one who shares no team with the admin."""

    slug = "user-not-found"
    default_detail = "no such user"


class PairingCodeUnknown(NotFound):
    """No pairing code like that was ever given out."""

    slug = "pairing-code-unknown"
    default_detail = "no such pairing code"


# 410: a pairing code that existed but can no longer be used.
class PairingCodeGone(DomainError):
    """The pairing code existed but can no longer be used."""

    status = 410
    slug = "pairing-code-gone"


class PairingCodeExpired(PairingCodeGone):
    """The pairing code is older than `KOL_PAIRING_CODE_MINUTES`; the nurse starts a new one."""

    slug = "pairing-code-expired"
    default_detail = "the pairing code has expired; start pairing again"


class PairingCodeUsed(PairingCodeGone):
    """The pairing code has paired a tablet already (single use)."""

    slug = "pairing-code-used"
    default_detail = "the pairing code has already been used; start pairing again"


# 409
class Conflict(DomainError):
    """The request conflicts with the resource's current state."""

    status = 409
    slug = "conflict"


class PatientDischarged(Conflict):
    """The patient has already been discharged."""

    slug = "patient-discharged"
    default_detail = "the patient has been discharged"


class TeamMemberNotFound(Conflict):
    """Someone named in a rota or an escalation chain is not a member of the team: the team was
    found, and its membership does not allow the change."""

    slug = "team-member-not-found"
    default_detail = "everyone in the rota and the chain must be a member of the team"


class PauseEnded(Conflict):
    """The pause is over: only a current or future pause can be ended."""

    slug = "pause-ended"
    default_detail = "the pause has already ended"


class AlertStateConflict(Conflict):
    """The alert's status does not allow the step (acknowledging a resolved alert)."""

    slug = "alert-state-conflict"


class AlertChanged(Conflict):
    """The alert escalated after the nurse saw it: what she decided on is not what it is. The
    problem carries `severity` (now) and `seen_severity` (what she saw)."""

    slug = "alert-changed"
    default_detail = "the alert has escalated since it was shown; look at it again"


class PersonalisationDone(Conflict):
    """Automatic personalisation cannot be turned on: it has already run for this patient (it
    runs once, at the end of the run-in). The proposal (`GET …/thresholds/proposal`) can be
    accepted by hand instead."""

    slug = "personalisation-done"
    default_detail = ("automatic personalisation has already run for this patient; accept the"
                      " current proposal by hand instead")


class UserExists(Conflict):
    """A user with that username exists (`kol-admin create-user`)."""

    slug = "user-exists"


# 413
class PayloadTooLarge(DomainError):
    """The request body is larger than the API accepts (`KOL_MAX_REQUEST_BODY_BYTES`); the
    connection is closed."""

    status = 413
    slug = "payload-too-large"
    default_headers = {"Connection": "close"}


class TeamExists(Conflict):
    """A team of that name exists."""

    slug = "team-exists"


# 422
class Unprocessable(DomainError):
    """The request is well formed but cannot be carried out."""

    status = 422
    slug = "unprocessable"


class ValidationFailed(Unprocessable):
    """A parameter or the body does not match the operation's schema; `errors` lists each
    failure."""

    slug = "validation-error"
    default_detail = "the request did not validate"



class InvalidRange(Unprocessable):
    """The end of the time span is not after its start."""

    slug = "invalid-range"
    default_detail = "'to' must be after 'from'"


class RangeTooLong(Unprocessable):
    """The time span is longer than the operation exports at once (FHIR: 366 days)."""

    slug = "range-too-long"


class UnknownProfile(Unprocessable):
    """No threshold profile of that name."""

    slug = "unknown-profile"


class UnknownType(Unprocessable):
    """No measurement type of that name."""

    slug = "unknown-type"


# 429
class TooManyLoginAttempts(DomainError):
    """Too many failed logins for the username or from the address; wait `Retry-After`
    seconds."""

    status = 429
    slug = "too-many-login-attempts"
    default_detail = "too many failed logins; try again later"
    response_headers = {"Retry-After": "seconds until logins are accepted again"}

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})


class TooManyPairingAttempts(DomainError):
    """Too many pairing-code redemptions from the address (`KOL_PAIRING_ATTEMPTS_PER_ADDRESS` in
    15 minutes, right or wrong); wait `Retry-After` seconds."""

    status = 429
    slug = "too-many-pairing-attempts"
    default_detail = "too many pairing attempts; try again later"
    response_headers = {"Retry-After": "seconds until pairing is accepted again"}

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})


class TooManyPairingCodes(DomainError):
    """The patient was given `KOL_PAIRING_CODES_PER_PATIENT_PER_HOUR` pairing codes in the last
    hour; wait `Retry-After` seconds."""

    status = 429
    slug = "too-many-pairing-codes"
    default_detail = "too many pairing codes for this patient in the last hour"
    response_headers = {"Retry-After": "seconds until a new code can be given"}

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})


# 503
class DatabaseUnavailable(DomainError):
    """The database is unreachable or restarting (any operation that reads or writes it); nothing
    was changed: try again after `Retry-After` seconds."""

    status = 503
    slug = "database-unavailable"
    default_detail = "the database cannot be reached; nothing was changed, try again shortly"
    response_headers = {"Retry-After": "seconds after which a retry may succeed"}

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})


class BrokerUnavailable(DomainError):
    """The MQTT broker cannot be reached to create or revoke a device's account."""

    status = 503
    slug = "broker-unavailable"
    default_detail = "the MQTT broker cannot be reached"


class ThrottleUnavailable(DomainError):
    """The pairing-attempt counter (Redis) cannot be reached: pairing codes are short, so pairing
    waits for it rather than going on unthrottled."""

    status = 503
    slug = "throttle-unavailable"
    default_detail = "the attempt counter (Redis) cannot be reached; try again shortly"
