from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from protocol.messages import MAX_MESSAGE_CHARS

Direction = Literal["patient", "team"]
"""``patient``: from her tablet to the team; ``team``: a reply from the dashboard."""

ReplyText = Annotated[str, Field(
    min_length=1, max_length=MAX_MESSAGE_CHARS,
    # Something to read (not only blanks), and nothing PostgreSQL text cannot hold.
    pattern=r"^[^\x00]*\S[^\x00]*$",
    description=f"1-{MAX_MESSAGE_CHARS} characters, not only blanks")]


class MessageOut(BaseModel):
    id: int
    direction: Direction
    text: str
    callback: bool = Field(description="the patient asked to be called back (ring mig op)")
    written_at: datetime = Field(description="when it was written (the tablet's clock for hers)")
    received_at: datetime
    author: str | None = Field(description="the team member who replied; null for hers")
    reply_to: int | None
    read_at: datetime | None = Field(
        description="when the other side read it: a team member hers, she the team's")
    read_by: str | None = Field(description="who read it: a username, or `patient`")


class ReplyIn(BaseModel):
    text: ReplyText
    reply_to: int | None = Field(default=None, ge=1,
                                 description="the patient's message this answers")


class MarkReadIn(BaseModel):
    up_to_id: int = Field(ge=1,
                          description="her messages up to this id are marked read")


class MarkedRead(BaseModel):
    marked: int = Field(description="how many of her messages were newly marked read")


class TabletMessage(BaseModel):
    """A message as the patient's tablet shows it: no team member's username."""

    id: int
    direction: Direction
    text: str
    callback: bool
    written_at: datetime
    msg_id: str | None = Field(description="hers: the msg_id her tablet sent it under")
    read_at: datetime | None


class TabletThread(BaseModel):
    messages: list[TabletMessage] = Field(description="oldest first")
    unread_replies: int
