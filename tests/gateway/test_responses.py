"""Questionnaire responses (the symptom diary) over the device channel, end to end through the
real broker and database: the same guarantees as readings (receipt after commit, stored once,
every rejection with its reason), and the diary handed to the alert engine as its symptom series.
The payload format is docs/questionnaires.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from core.pro import PRO_QUESTION, PRO_QUESTIONNAIRE
from core.questionnaires import SYMPTOM_DIARY, SYMPTOM_SERIES_INDEX
from core.settings import Settings
from gateway.service import Gateway
from protocol.messages import encode_responses
from tests.conftest import wait_for
from tests.gateway.conftest import Device, HandOff, mosquitto_pub
from tests.gateway.test_ingest import Tablet

NOW = datetime.now(UTC).replace(microsecond=0)
QUIET = {"breathlessness": False, "sputum_volume": False, "sputum_colour": False,
         "cold": False, "wheeze": False, "sore_throat": False, "cough": False}


def diary(at: datetime, **answers: bool | str) -> dict[str, Any]:
    items = {**QUIET, **answers}
    return {"questionnaire": SYMPTOM_DIARY, "authored": at.astimezone(UTC).isoformat(),
            "items": [{"id": k, "answer": v} for k, v in items.items()]}


def stored(conn: psycopg.Connection[Any], patient_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "select questionnaire, authored_at, answers, symptom_mask, msg_id"
        " from questionnaire_responses where patient_id = %s order by authored_at",
        (patient_id,)).fetchall()


class DiaryTablet(Tablet):
    def answer(self, payload: bytes) -> None:
        self.publish(self.device.responses_topic, payload)


@pytest.fixture
def tablet(settings: Settings, provision: Callable[..., Device], gateway: Gateway) -> Any:
    with DiaryTablet(settings, provision()) as t:
        yield t


def test_diary_is_receipted_stored_once_and_handed_to_the_engine(
        tablet: DiaryTablet, committed_conn: psycopg.Connection[Any],
        hand_off: HandOff) -> None:
    patient = tablet.device.patient_id
    payload = encode_responses("diary-1", [
        diary(NOW - timedelta(minutes=2), breathlessness=True, cough=True,
              note="  Hoster mere om natten  ")], sent_at=NOW.isoformat())
    tablet.answer(payload)
    assert tablet.receipt() == {"v": 1, "msg_id": "diary-1", "accepted": 1, "duplicates": 0,
                                "rejected": []}
    rows = stored(committed_conn, patient)
    assert len(rows) == 1
    assert rows[0]["answers"]["breathlessness"] is True
    assert rows[0]["answers"]["note"] == "Hoster mere om natten"
    # Breathlessness is bit 0, cough bit 6.
    assert rows[0]["symptom_mask"] == 0b1000001
    handed = wait_for(lambda: [b for b in hand_off.batches if patient in b.patient_id.tolist()],
                      what="hand-off")
    assert handed[0].type_index.tolist() == [SYMPTOM_SERIES_INDEX]
    assert handed[0].value.tolist() == [65.0]

    # The same message again (the tablet missed the receipt): the first receipt, nothing new.
    tablet.answer(payload)
    assert tablet.receipt()["accepted"] == 1
    # The same response in another message: stored once, counted as a duplicate.
    tablet.answer(encode_responses("diary-2", [
        diary(NOW - timedelta(minutes=2), breathlessness=True, cough=True,
              note="  Hoster mere om natten  ")], sent_at=NOW.isoformat()))
    assert tablet.receipt() == {"v": 1, "msg_id": "diary-2", "accepted": 0, "duplicates": 1,
                                "rejected": []}
    assert len(stored(committed_conn, patient)) == 1


def test_the_monthly_question_is_receipted_stored_once_and_not_a_symptom(
        tablet: DiaryTablet, committed_conn: psycopg.Connection[Any],
        hand_off: HandOff) -> None:
    patient = tablet.device.patient_id
    answer = {"questionnaire": PRO_QUESTIONNAIRE,
              "authored": (NOW - timedelta(minutes=1)).isoformat(),
              "items": [{"id": PRO_QUESTION, "answer": False}]}
    for msg_id in ("pro-1", "pro-1", "pro-2"):
        tablet.answer(encode_responses(msg_id, [answer], sent_at=NOW.isoformat()))
        assert tablet.receipt()["msg_id"] == msg_id
    rows = stored(committed_conn, patient)
    assert [(r["questionnaire"], r["answers"], r["symptom_mask"], r["msg_id"]) for r in rows] \
        == [(PRO_QUESTIONNAIRE, {PRO_QUESTION: False}, None, "pro-1")]
    # Only the diary is a series of the alert engine.
    assert not [b for b in hand_off.batches if patient in b.patient_id.tolist()]
    # A missing answer to the required question is refused with its reason.
    tablet.answer(encode_responses("pro-3", [{**answer, "items": []}], sent_at=NOW.isoformat()))
    receipt = tablet.receipt()
    assert receipt["accepted"] == 0
    assert len(receipt["rejected"]) == 1


def test_each_bad_response_is_rejected_with_its_reason_and_kept(
        tablet: DiaryTablet, committed_conn: psycopg.Connection[Any]) -> None:
    patient = tablet.device.patient_id
    good = diary(NOW - timedelta(hours=1), cold=True)
    unknown = {**diary(NOW - timedelta(hours=2)), "questionnaire": "kol-unknown-v9"}
    bad_kind = diary(NOW - timedelta(hours=3), cough="yes")
    extra_item = diary(NOW - timedelta(hours=4), fever=True)
    missing = {**diary(NOW - timedelta(hours=5)), "items": [{"id": "cold", "answer": True}]}
    naive = {**diary(NOW), "authored": "2026-11-22T08:00:00"}
    future = diary(NOW + timedelta(hours=1))
    long_note = diary(NOW - timedelta(hours=6), note="x" * 1001)
    tablet.answer(encode_responses("diary-bad", [
        good, unknown, bad_kind, extra_item, missing, naive, future, long_note],
        sent_at=NOW.isoformat()))
    receipt = tablet.receipt()
    assert receipt["accepted"] == 1
    assert receipt["rejected"] == [
        {"index": 1, "reason": "unknown_questionnaire"}, {"index": 2, "reason": "bad_answer"},
        {"index": 3, "reason": "bad_answer"}, {"index": 4, "reason": "missing_field"},
        {"index": 5, "reason": "naive_timestamp"}, {"index": 6, "reason": "future_timestamp"},
        {"index": 7, "reason": "bad_answer"}]
    assert [r["symptom_mask"] for r in stored(committed_conn, patient)] == [0b0001000]
    letters = committed_conn.execute(
        "select reading_index, reason from rejections where msg_id = 'diary-bad'"
        " and device_id = %s order by reading_index", (tablet.device.device_id,)).fetchall()
    assert [(r["reading_index"], r["reason"]) for r in letters] == [
        (r["index"], r["reason"]) for r in receipt["rejected"]]


def test_a_msg_id_used_for_readings_is_a_conflict_for_responses(
        settings: Settings, tablet: DiaryTablet, committed_conn: psycopg.Connection[Any]
        ) -> None:
    tablet.send(orjson.dumps({"v": 1, "msg_id": "shared-1", "sent_at": NOW.isoformat(),
                              "readings": [{"type": "spo2", "value": 93, "unit": "%",
                                            "measured_at": NOW.isoformat()}]}))
    assert tablet.receipt()["accepted"] == 1
    tablet.answer(encode_responses("shared-1", [diary(NOW)], sent_at=NOW.isoformat()))
    assert tablet.receipt()["rejected"] == [{"index": None, "reason": "msg_id_conflict"}]
    assert stored(committed_conn, tablet.device.patient_id) == []


def test_a_device_may_answer_only_on_its_own_topic(
        settings: Settings, provision: Callable[..., Device], gateway: Gateway,
        committed_conn: psycopg.Connection[Any]) -> None:
    alice, bob = provision(), provision()
    mosquitto_pub(settings, alice, bob.responses_topic,
                  encode_responses("forged", [diary(NOW)], sent_at=NOW.isoformat()))
    mosquitto_pub(settings, alice, alice.responses_topic,
                  encode_responses("own", [diary(NOW)], sent_at=NOW.isoformat()))
    wait_for(lambda: stored(committed_conn, alice.patient_id), what="alice's diary")
    assert stored(committed_conn, bob.patient_id) == []
