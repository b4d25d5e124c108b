"""Her symptom diary as the team reads it (docs/questionnaires.md): the last responses to
``kol-symptoms-v1``, each symptom labelled from the questionnaire definition. The responses arrive
from her tablet over the device channel (ingest); this only reads them."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from core.access import Viewer
from core.questionnaires import QUESTIONNAIRES, SYMPTOM_DIARY, SYMPTOM_ITEMS, Item
from patients import repository
from patients.schemas import DiaryAnswer, DiaryEntry
from patients.service import require_patient

_NOTE = next(i.link_id for i in QUESTIONNAIRES[SYMPTOM_DIARY].items if i.kind == "text")


def recent(conn: Connection[Any], viewer: Viewer, patient_id: int, *, limit: int
           ) -> list[DiaryEntry]:
    """Her last ``limit`` diaries, newest first; 404 for a patient the viewer may not see."""
    require_patient(conn, viewer, patient_id)
    return [_entry(row) for row in repository.diary(
        conn, viewer, patient_id=patient_id, questionnaire=SYMPTOM_DIARY, limit=limit)]


def _entry(row: dict[str, Any]) -> DiaryEntry:
    answers: dict[str, Any] = row["answers"]
    note = answers.get(_NOTE)
    return DiaryEntry(
        authored_at=row["authored_at"], received_at=row["received_at"], late=row["late"],
        answers=[_answer(item, answers.get(item.link_id)) for item in SYMPTOM_ITEMS],
        note=note if isinstance(note, str) and note.strip() else None)


def _answer(item: Item, answer: object) -> DiaryAnswer:
    assert item.category is not None, "SYMPTOM_ITEMS holds only symptoms"
    return DiaryAnswer(link_id=item.link_id, text_da=item.text_da, text_en=item.text_en,
                       category=item.category,
                       answer=answer if isinstance(answer, bool) else None)
