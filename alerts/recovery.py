"""Recovery of left-over ingest hand-offs (``pending_evaluations`` rows whose gateway died
between the ingest commit and the alert evaluation), and the operator's view of those that keep
failing. Never commits: the task or the request owns the transaction.

Each attempt runs in a savepoint: a failed evaluation leaves nothing behind but its count, its
error and the time of the next attempt (exponential backoff); after ``max_attempts`` failures
the row is parked, so that one evaluation that always fails no longer holds up the ones after
it. A database that is unreachable is not the row's fault and is not counted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import Connection

from alerts import repository
from alerts.evaluation import evaluate_new
from alerts.schemas import ParkedEvaluationOut
from core import audit, errors
from core.access import Viewer
from core.pagination import int_cursor
from core.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0

Step = Literal["evaluated", "failed", "parked"]


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryPolicy:
    older_than_seconds: float = 120.0
    """A hand-off row older than this has lost its evaluator (a live gateway evaluates in
    seconds)."""
    max_attempts: int = _default("alert_recovery_max_attempts")
    backoff_seconds: float = _default("alert_recovery_backoff_seconds")

    @classmethod
    def from_settings(cls, settings: Settings, *, older_than_seconds: float = 120.0
                      ) -> RecoveryPolicy:
        return cls(older_than_seconds=older_than_seconds,
                   max_attempts=settings.alert_recovery_max_attempts,
                   backoff_seconds=settings.alert_recovery_backoff_seconds)


def recover_one(conn: Connection[Any], policy: RecoveryPolicy) -> Step | None:
    """Evaluate the oldest due left-over hand-off; None when none is due."""
    row = repository.next_leftover_pending(conn, older_than_seconds=policy.older_than_seconds)
    if row is None:
        return None
    try:
        with conn.transaction():
            evaluate_new(conn, repository.readings_received(
                conn, patient_ids=row["patient_ids"], measured_from=row["first_measured_at"],
                measured_to=row["last_measured_at"], received_from=row["received_from"],
                received_to=row["received_to"]))
            repository.delete_pending(conn, row["id"])
        return "evaluated"
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except Exception as exc:
        attempts = row["attempts"] + 1
        park = attempts >= policy.max_attempts
        retry_in = min(policy.backoff_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
        repository.record_failed_attempt(conn, row["id"],
                                         error=f"{type(exc).__name__}: {exc}"[:500],
                                         retry_in_seconds=retry_in, park=park)
        log.exception("left-over alert evaluation %s failed (attempt %d of %d)%s", row["id"],
                      attempts, policy.max_attempts, "; parked" if park else "")
        return "parked" if park else "failed"


def list_parked(conn: Connection[Any], *, cursor: str | None, limit: int
                ) -> tuple[list[ParkedEvaluationOut], str | None]:
    rows = repository.parked_pending(conn, before_id=int_cursor(cursor), limit=limit + 1)
    page = [ParkedEvaluationOut.model_validate(r) for r in rows[:limit]]
    return page, str(page[-1].id) if len(rows) > limit else None


def retry_parked(conn: Connection[Any], viewer: Viewer, pending_id: int) -> None:
    """Make a parked evaluation due again (after the cause was fixed); audited."""
    row = repository.unpark_pending(conn, pending_id)
    if row is None:
        raise errors.ParkedEvaluationNotFound()
    audit.record(conn, viewer=viewer, action="alerts.evaluation.retry",
                 entity_type="pending_evaluation", entity_id=pending_id,
                 detail={"last_error": row["last_error"]})


def counts(conn: Connection[Any]) -> dict[str, int]:
    """Hand-off rows ``waiting`` for an evaluation and ``parked`` for an operator."""
    return repository.pending_counts(conn)
