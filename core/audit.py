"""The audit log: who did what to which entity. Every domain service that changes something a
clinician or an inspector may ask about later writes here in the same transaction."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from core import repository
from core.access import Viewer


def record(conn: Connection[Any], *, viewer: Viewer, action: str, entity_type: str,
           entity_id: str | int, detail: dict[str, Any] | None = None) -> None:
    repository.insert_audit(conn, actor_id=viewer.user_id, actor=viewer.username, action=action,
                            entity_type=entity_type, entity_id=str(entity_id),
                            detail=detail or {})


def record_on_behalf(conn: Connection[Any], *, actor_id: int, actor: str, action: str,
                     entity_type: str, entity_id: str | int,
                     detail: dict[str, Any] | None = None) -> None:
    """For a change made without a logged-in user on a user's authority (a tablet redeeming the
    pairing code a nurse started): the entry names her and says how."""
    repository.insert_audit(conn, actor_id=actor_id, actor=actor, action=action,
                            entity_type=entity_type, entity_id=str(entity_id),
                            detail=detail or {})


def record_device(conn: Connection[Any], *, device_id: str, action: str, entity_type: str,
                  entity_id: str | int, detail: dict[str, Any] | None = None) -> None:
    """For what a patient did on her tablet (a message to her team): the device is the actor."""
    repository.insert_audit(conn, actor_id=None, actor=f"device {device_id}", action=action,
                            entity_type=entity_type, entity_id=str(entity_id),
                            detail=detail or {})
