"""Messages between a patient and her team (docs/messages.md): the team reads, marks read and
replies; her tablet reads the thread authenticated as its device. Her own messages arrive over
the device protocol's ``messages`` addition, not here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import CurrentViewer, DbConn, PatientRead
from api.routes.tablets import DevicePatient
from messages import service
from messages.schemas import MarkedRead, MarkReadIn, MessageOut, ReplyIn, TabletThread

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.get("/patients/{patient_id}/messages", response_model=list[MessageOut])
def patient_messages(patient_id: int, conn: DbConn, viewer: CurrentViewer, read: PatientRead,
                     limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[MessageOut]:
    """Her last ``limit`` messages and the team's replies, oldest first, with when each was read
    by the other side."""
    thread = service.thread(conn, viewer, patient_id, limit=limit)
    read(patient_id, "messages", limit=limit)
    return thread


@router.post("/patients/{patient_id}/messages", response_model=MessageOut,
             status_code=status.HTTP_201_CREATED)
def reply(patient_id: int, body: ReplyIn, conn: DbConn, viewer: CurrentViewer) -> MessageOut:
    """A reply from the team; her tablet shows it. Marks her messages up to ``reply_to`` (all,
    without it) read. Audited."""
    return service.reply(conn, viewer, patient_id, body)


@router.post("/patients/{patient_id}/messages/read", response_model=MarkedRead)
def mark_read(patient_id: int, body: MarkReadIn, conn: DbConn, viewer: CurrentViewer
              ) -> MarkedRead:
    """Her messages up to ``up_to_id`` read by the viewer (her tablet says so). Audited."""
    return MarkedRead(marked=service.mark_read(conn, viewer, patient_id, body.up_to_id))


@router.get("/tablet/messages", response_model=TabletThread, tags=["tablet"])
def tablet_messages(patient_id: DevicePatient, conn: DbConn) -> TabletThread:
    """The device's own patient's last 50 messages and replies, oldest first."""
    return service.tablet_thread(conn, patient_id)
