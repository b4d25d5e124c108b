"""What schemathesis needs beyond the OpenAPI document to test the API the way the issue asks.

- :func:`problem_type_documented`, a check: every ``application/problem+json`` answer's ``type``
  is one the document lists for that operation and status (the built-in checks stop at the
  status code and the schema, which every problem shares).
- :func:`before_call`: rules across fields that JSON Schema cannot state (``to`` after
  ``from``; a pause ends after it starts, within 90 days, starting within a year; thresholds in
  increasing order; a team's day hours start before they end; an escalation chain's minutes do
  not decrease and name a user exactly for target ``user``), which the document states in words
  and the server answers with a documented 422. Generated requests are mended to keep them, so
  that a schema-valid request the server rejects for any other reason still fails
  ``positive_data_acceptance``. The rules are the API's, read off its documentation; a server
  that changed them would fail here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.hooks import HookContext

from patients.schemas import MAX_PAUSE, MAX_PAUSE_AHEAD

PROBLEM_MEDIA_TYPE = "application/problem+json"
FHIR_LONGEST = timedelta(days=366)


@schemathesis.check
def problem_type_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    if not response.headers.get("content-type", [""])[0].startswith(PROBLEM_MEDIA_TYPE):
        return None
    documented = case.operation.definition.raw.get("responses", {}).get(
        str(response.status_code))
    if documented is None:
        return None  # status_code_conformance reports it
    examples = documented.get("content", {}).get(PROBLEM_MEDIA_TYPE, {}).get("examples", {})
    types = [e["value"]["type"] for e in examples.values()]
    problem_type = response.json().get("type")
    if problem_type not in types:
        raise Failure(operation=case.operation.label, title="Undocumented problem type",
                      message=f"{response.status_code} {problem_type!r} is not among the "
                              f"documented types of this status: {', '.join(types) or 'none'}")
    return True


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _span(query: dict[str, Any], *, longest: timedelta | None) -> dict[str, Any]:
    """``to`` after ``from`` (``to`` defaults to now), at most ``longest`` apart."""
    start, end = _parse(query.get("from")), _parse(query.get("to"))
    if start is None or ("to" in query and end is None):
        return query
    end = end or datetime.now(UTC)
    if start < end and (longest is None or end - start <= longest):
        return query
    try:
        return {**query, "to": (start + timedelta(days=1)).isoformat()}
    except OverflowError:
        return {**query, "from": (start - timedelta(days=1)).isoformat(), "to": query["from"]}


def _pause(body: Any) -> Any:
    """Ends after it starts, lasts at most ``MAX_PAUSE``, starts at most ``MAX_PAUSE_AHEAD``
    from now."""
    if not isinstance(body, dict):
        return body
    start, end = _parse(body.get("starts_at")), _parse(body.get("ends_at"))
    if start is None or end is None:
        return body
    latest_start = datetime.now(UTC) + MAX_PAUSE_AHEAD
    if start < end and end - start <= MAX_PAUSE and start <= latest_start:
        return body
    start = min(start, latest_start - timedelta(days=1))
    return {**body, "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=1)).isoformat()}


_INCREASING = {"absolute": ("red_low", "yellow_low", "yellow_high", "red_high"),
               "baseline": (("drop_yellow", "drop_red"), ("rise_yellow", "rise_red"))}


def _increasing(section: dict[str, Any], names: tuple[str, ...]) -> None:
    """Present numbers of ``names`` rearranged into strictly increasing order."""
    present = [n for n in names if isinstance(section.get(n), int | float)
               and not isinstance(section.get(n), bool)]
    values = sorted(section[n] for n in present)
    for name, value in zip(present, values, strict=True):
        section[name] = value
    for earlier, later in zip(present, present[1:], strict=False):
        if not section[earlier] < section[later]:
            section[later] = None


def _thresholds(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("thresholds"), dict):
        return body
    for name, section in body["thresholds"].items():
        if not isinstance(section, dict):
            continue
        if name == "combined":
            _increasing(section, ("z_yellow", "z_red"))
            _increasing(section, ("z_yellow_diary", "z_red"))
            continue
        if isinstance(section.get("absolute"), dict):
            _increasing(section["absolute"], _INCREASING["absolute"])  # type: ignore[arg-type]
        if isinstance(section.get("baseline"), dict):
            for pair in _INCREASING["baseline"]:
                _increasing(section["baseline"], pair)  # type: ignore[arg-type]
    return body


def _local_minutes(value: Any) -> int | None:
    if not isinstance(value, str) or len(value) < 5 or value[2] != ":":
        return None
    try:
        return int(value[:2]) * 60 + int(value[3:5])
    except ValueError:
        return None


def _notification_policy(body: dict[str, Any]) -> None:
    """Day hours start before they end."""
    start, end = _local_minutes(body.get("day_starts", "08:00")), \
        _local_minutes(body.get("day_ends", "16:00"))
    if start is not None and end is not None and not start < end:
        body["day_starts"], body["day_ends"] = ("00:00", "23:59") if start == end else (
            body.get("day_ends", "16:00"), body.get("day_starts", "08:00"))


def _escalation(body: dict[str, Any]) -> None:
    """``user_id`` exactly for target ``user``; ``after_minutes`` does not decrease."""
    steps = [s for s in body.get("steps") or [] if isinstance(s, dict)]
    for step in steps:
        if step.get("target") in ("primary", "secondary"):
            step["user_id"] = None
        elif step.get("target") == "user" and step.get("user_id") is None:
            step["target"] = "primary"
    minutes = sorted(m for s in steps if isinstance(m := s.get("after_minutes"), int | float)
                     and not isinstance(m, bool))
    for step in steps:
        m = step.get("after_minutes")
        if isinstance(m, int | float) and not isinstance(m, bool):
            step["after_minutes"] = minutes.pop(0)


@schemathesis.hook
def before_call(context: HookContext, case: Any, kwargs: dict[str, Any]) -> None:
    """Mend every request (of every phase, the coverage phase's too) to keep the cross-field
    rules; schemathesis then classifies the request as it is sent."""
    path = case.operation.path
    if isinstance(case.query, dict) and path.endswith(("/fhir", "/measurements")):
        case.query.update(_span(case.query,
                                longest=FHIR_LONGEST if path.endswith("/fhir") else None))
    if isinstance(case.body, dict):
        if path.endswith("/pauses"):
            case.body.update(_pause(case.body))
        elif path.endswith(("/thresholds", "/thresholds/preview")):
            _thresholds(case.body)
        elif path.endswith("/notifications/policy"):
            _notification_policy(case.body)
        elif path.endswith("/notifications/escalation"):
            _escalation(case.body)
