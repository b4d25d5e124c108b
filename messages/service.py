"""The team's side of the messages and what the tablet reads. Never commits: the request owns
the transaction. Every reply and every read is audited; the patient's own messages are audited
by ingest when they arrive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from core import audit, errors
from core.access import Viewer
from messages import repository
from messages.schemas import MessageOut, ReplyIn, TabletMessage, TabletThread
from patients.service import require_patient

TABLET_MESSAGES = 50
"""How much of the thread the tablet shows (and keeps for when it is offline)."""


def thread(conn: Connection[Any], viewer: Viewer, patient_id: int, *, limit: int
           ) -> list[MessageOut]:
    require_patient(conn, viewer, patient_id)
    return [MessageOut(**r) for r in repository.thread(conn, viewer, patient_id, limit=limit)]


def _mark_read(conn: Connection[Any], viewer: Viewer, patient_id: int, up_to_id: int
               ) -> list[int]:
    marked = repository.mark_read_by_team(conn, patient_id, up_to_id, viewer.username)
    if marked:
        audit.record(conn, viewer=viewer, action="message.read", entity_type="patient",
                     entity_id=patient_id, detail={"message_ids": marked})
    return marked


def mark_read(conn: Connection[Any], viewer: Viewer, patient_id: int, up_to_id: int) -> int:
    """Her messages up to ``up_to_id`` read by the viewer: her tablet then says so."""
    require_patient(conn, viewer, patient_id)
    if viewer.user_id is None:
        raise errors.Forbidden("messages are read by a signed-in user")
    return len(_mark_read(conn, viewer, patient_id, up_to_id))


def reply(conn: Connection[Any], viewer: Viewer, patient_id: int, body: ReplyIn) -> MessageOut:
    """A reply to the patient, shown on her tablet. Answering reads what it answers: her
    messages up to the one replied to (all of them when it names none) are marked read."""
    require_patient(conn, viewer, patient_id)
    if viewer.user_id is None:
        raise errors.Forbidden("replies are written by a signed-in user")
    if body.reply_to is not None and not repository.is_patients_message(conn, patient_id,
                                                                        body.reply_to):
        raise errors.MessageNotFound()
    row = repository.insert_reply(conn, patient_id=patient_id, text=body.text.strip(),
                                  author_id=viewer.user_id, author=viewer.username,
                                  reply_to=body.reply_to)
    audit.record(conn, viewer=viewer, action="message.sent", entity_type="patient",
                 entity_id=patient_id, detail={"message_id": row["id"],
                                               "reply_to": body.reply_to})
    _mark_read(conn, viewer, patient_id, body.reply_to or row["id"])
    return MessageOut(**row)


def tablet_thread(conn: Connection[Any], patient_id: int) -> TabletThread:
    """The device's own patient's thread (resolved from its credentials)."""
    return TabletThread(
        messages=[TabletMessage(**r) for r in
                  repository.device_thread(conn, patient_id, TABLET_MESSAGES)],
        unread_replies=repository.unread_replies(conn, patient_id))


def between(conn: Connection[Any], viewer: Viewer, patient_id: int, start: datetime,
            end: datetime) -> list[MessageOut]:
    """Her messages and the replies received in [start, end), oldest first (the FHIR export)."""
    return [MessageOut(**r) for r in repository.between(conn, viewer, patient_id, start, end)]
