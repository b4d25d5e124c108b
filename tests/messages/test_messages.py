"""Messages between a patient and her team (docs/messages.md), end to end through the real
broker, gateway, database and API: her tablet publishes on the ``messages`` addition and gets a
receipt, each message is stored once and audited, rejections carry their reasons, the team sees
the unread count in the triage list, reads and replies, the tablet reads the thread as its device
and acknowledges the reply over MQTT; the FHIR export carries the messages as Communications."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication

from core.settings import Settings
from devices import service as devices_service
from devices.broker import BrokerAdmin, device_role
from gateway.service import Gateway
from protocol.messages import MAX_MESSAGE_CHARS, encode_note, encode_read
from protocol.parsing import parse_message
from protocol.topics import device_topics
from tests.api.fhir_invariants import bundle_violations
from tests.api.helpers import User, make_user
from tests.conftest import wait_for
from tests.gateway.conftest import Device, count
from tests.mqtt_helpers import TestClient as MqttClient

NOW = datetime.now(UTC).replace(microsecond=0)


class Tablet(MqttClient):
    """A device session that listens to its receipts and publishes on its messages topic."""

    def __init__(self, settings: Settings, device: Device) -> None:
        super().__init__(settings, username=device.device_id, password=device.password,
                         client_id=device.device_id)
        self.device = device
        self.topic = device_topics(device.device_id).messages

    def __enter__(self) -> Tablet:
        super().__enter__()
        assert self.connack is not None
        assert not self.connack.is_failure, self.connack
        assert not self.subscribe(device_topics(self.device.device_id).receipts)[0].is_failure
        return self

    def note(self, text: str, *, callback: bool = False, msg_id: str | None = None) -> str:
        msg_id = msg_id or uuid.uuid4().hex
        self.publish(self.topic, encode_note(msg_id, text=text, callback=callback,
                                             written_at=NOW.isoformat(),
                                             sent_at=NOW.isoformat()))
        return msg_id

    def receipt(self, timeout: float = 15) -> dict[str, Any]:
        receipt: dict[str, Any] = orjson.loads(self.messages.get(timeout=timeout).payload)
        return receipt

    def thread(self, api: TestClient) -> dict[str, Any]:
        response = api.get("/api/v1/tablet/messages",
                           auth=httpx.BasicAuth(self.device.device_id, self.device.password))
        assert response.status_code == 200, response.text
        thread: dict[str, Any] = response.json()
        return thread


@pytest.fixture
def tablet(settings: Settings, provision: Callable[..., Device], gateway: Gateway
           ) -> Iterator[Tablet]:
    with Tablet(settings, provision()) as t:
        yield t


def nurse_of(api: TestClient, conn: psycopg.Connection[Any], patient_id: int) -> User:
    row = conn.execute("select t.name from patients p join teams t on t.id = p.team_id"
                       " where p.id = %s", (patient_id,)).fetchone()
    assert row is not None
    return make_user(api, conn, role="nurse", teams=[row["name"]])


def stored(conn: psycopg.Connection[Any], patient_id: int) -> list[dict[str, Any]]:
    return conn.execute("select direction, body, callback, msg_id, read_by from"
                        " patient_messages where patient_id = %s order by id",
                        (patient_id,)).fetchall()


def audit_actions(conn: psycopg.Connection[Any], patient_id: int) -> list[str]:
    return [r["action"] for r in conn.execute(
        "select action from audit_log where entity_type = 'patient' and entity_id = %s"
        " and action like 'message.%%' order by id", (str(patient_id),))]


def test_a_message_is_receipted_stored_once_and_audited(
        tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    msg_id = tablet.note("Jeg har mere slim i dag", msg_id="note-1")
    first = tablet.receipt()
    assert first == {"v": 1, "msg_id": "note-1", "accepted": 1, "duplicates": 0,
                     "rejected": []}
    # The tablet did not get the receipt and sends it again (another sent_at): stored once,
    # answered with the first receipt.
    tablet.note("Jeg har mere slim i dag", msg_id=msg_id)
    assert tablet.receipt() == first
    callback = tablet.note("", callback=True)
    assert tablet.receipt()["accepted"] == 1
    assert [(r["direction"], r["body"], r["callback"], r["msg_id"])
            for r in stored(committed_conn, tablet.device.patient_id)] == [
        ("patient", "Jeg har mere slim i dag", False, "note-1"),
        ("patient", "", True, callback)]
    assert audit_actions(committed_conn, tablet.device.patient_id) == [
        "message.received", "message.received"]
    # Other content under a used msg_id is a conflict, kept as a dead letter with its reason.
    tablet.note("Noget andet", msg_id="note-1")
    assert tablet.receipt()["rejected"] == [{"index": None, "reason": "msg_id_conflict"}]
    assert len(stored(committed_conn, tablet.device.patient_id)) == 2


REJECTED = {
    "empty_message": {"message": {"text": "  ", "callback": False,
                                  "written_at": NOW.isoformat()}},
    "text_too_long": {"message": {"text": "x" * (MAX_MESSAGE_CHARS + 1),
                                  "written_at": NOW.isoformat()}},
    "future_timestamp": {"message": {"text": "hej",
                                     "written_at": (NOW + timedelta(hours=1)).isoformat()}},
    "naive_timestamp": {"message": {"text": "hej", "written_at": "2026-11-22T08:00:00"}},
    "missing_field": {"message": {"text": "hej"}, "read": {"reply_ids": [1]}},
}
"""Every reason a message can be refused for with a receipt (``msg_id_conflict`` and
``unknown_reply`` are tested below; an unsupported version is refused before its msg_id is read,
as v1 does for readings)."""


@pytest.mark.parametrize("reason", sorted(REJECTED))
def test_a_bad_message_is_receipted_with_its_reason_and_dead_lettered(
        reason: str, tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    msg_id = f"bad-{reason}"
    tablet.publish(tablet.topic, orjson.dumps(
        {"v": 1, "msg_id": msg_id, "sent_at": NOW.isoformat(), **REJECTED[reason]}))
    assert tablet.receipt() == {"v": 1, "msg_id": msg_id, "accepted": 0, "duplicates": 0,
                                "rejected": [{"index": None, "reason": reason}]}
    assert stored(committed_conn, tablet.device.patient_id) == []
    assert count(committed_conn, "select count(*) from rejections where device_id = %s"
                 " and reason = %s and topic = %s", tablet.device.device_id, reason,
                 tablet.topic) == 1


def test_parsing_needs_exactly_one_of_message_and_read() -> None:
    topic = device_topics("tab-parse").messages
    parsed = parse_message(topic, encode_read("r1", reply_ids=[3, 2, 3], read_at=NOW.isoformat(),
                                              sent_at=NOW.isoformat()), NOW)
    assert parsed.read is not None
    assert parsed.read.reply_ids == (2, 3)
    for bad in ({"read": {"reply_ids": []}}, {"read": {"reply_ids": [True]}},
                {"read": {"reply_ids": ["1"], "read_at": NOW.isoformat()}}, {}):
        judged = parse_message(topic, orjson.dumps({"v": 1, "msg_id": "x", **bad}), NOW)
        assert [r.reason for r in judged.rejections] == ["missing_field"], bad


def test_team_reads_and_replies_the_tablet_shows_it_and_acknowledges_it(
        api: TestClient, tablet: Tablet, committed_conn: psycopg.Connection[Any],
        provision: Callable[..., Device]) -> None:
    patient = tablet.device.patient_id
    nurse = nurse_of(api, committed_conn, patient)
    tablet.note("Må jeg tage en ekstra dosis?")
    tablet.receipt()
    tablet.note("", callback=True)
    tablet.receipt()

    def triage_row() -> dict[str, Any]:
        rows = api.get("/api/v1/triage?limit=500", headers=nurse.headers).json()
        row: dict[str, Any] = next(r for r in rows if r["patient_id"] == patient)
        return row

    assert triage_row()["unread_messages"] == 2
    thread = api.get(f"/api/v1/patients/{patient}/messages", headers=nurse.headers)
    assert thread.status_code == 200, thread.text
    first, second = thread.json()
    assert (first["text"], first["callback"], first["read_at"]) == (
        "Må jeg tage en ekstra dosis?", False, None)
    # Reading the thread is in the access log.
    assert count(committed_conn, "select count(*) from access_log where patient_id = %s"
                 " and what = 'messages' and username = %s", patient, nurse.username) == 1

    marked = api.post(f"/api/v1/patients/{patient}/messages/read", headers=nurse.headers,
                      json={"up_to_id": first["id"]})
    assert marked.json() == {"marked": 1}
    assert triage_row()["unread_messages"] == 1
    # Her tablet sees that the team read the first one, not yet the call-back request.
    mine = tablet.thread(api)["messages"]
    assert [m["read_at"] is not None for m in mine] == [True, False]

    reply = api.post(f"/api/v1/patients/{patient}/messages", headers=nurse.headers,
                     json={"text": "Nej, vi ringer dig op i eftermiddag.",
                           "reply_to": second["id"]})
    assert reply.status_code == 201, reply.text
    answer = reply.json()
    assert (answer["direction"], answer["author"], answer["reply_to"]) == (
        "team", nurse.username, second["id"])
    assert triage_row()["unread_messages"] == 0  # answering reads what it answers
    shown = tablet.thread(api)
    assert shown["unread_replies"] == 1
    assert shown["messages"][-1] == {
        "id": answer["id"], "direction": "team", "text": "Nej, vi ringer dig op i eftermiddag.",
        "callback": False, "written_at": answer["written_at"], "msg_id": None, "read_at": None}
    assert "author" not in shown["messages"][-1]  # no username on her screen

    # She reads it: the tablet's read receipt goes through the outbox like a message.
    tablet.publish(tablet.topic, encode_read("read-1", reply_ids=[answer["id"]],
                                             read_at=NOW.isoformat(), sent_at=NOW.isoformat()))
    assert tablet.receipt()["accepted"] == 1
    assert tablet.thread(api)["unread_replies"] == 0
    after = api.get(f"/api/v1/patients/{patient}/messages", headers=nurse.headers).json()
    assert (after[-1]["read_by"], after[-1]["read_at"]) == ("patient", NOW.isoformat()
                                                            .replace("+00:00", "Z"))
    assert audit_actions(committed_conn, patient) == [
        "message.received", "message.received", "message.read", "message.sent", "message.read",
        "message.read_by_patient"]

    # A read receipt naming a message that is no reply to her is refused with its reason, and
    # marks nothing.
    other = provision()
    with Tablet(tablet._settings, other) as stranger:
        stranger.publish(stranger.topic, encode_read(
            "read-x", reply_ids=[answer["id"]], read_at=NOW.isoformat(),
            sent_at=NOW.isoformat()))
        assert stranger.receipt()["rejected"] == [{"index": None, "reason": "unknown_reply"}]


def test_replies_are_scoped_to_the_team_and_to_her_own_messages(
        api: TestClient, tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    patient = tablet.device.patient_id
    nurse = nurse_of(api, committed_conn, patient)
    stranger = make_user(api, committed_conn, role="nurse", teams=[f"team-{uuid.uuid4().hex}"])
    for path, body in ((f"/api/v1/patients/{patient}/messages", {"text": "hej"}),
                       (f"/api/v1/patients/{patient}/messages/read", {"up_to_id": 1})):
        response = api.post(path, headers=stranger.headers, json=body)
        assert response.status_code == 404
        assert response.json()["type"] == "urn:kol:problem:patient-not-found"
    assert api.get(f"/api/v1/patients/{patient}/messages",
                   headers=stranger.headers).status_code == 404
    own = api.post(f"/api/v1/patients/{patient}/messages", headers=nurse.headers,
                   json={"text": "Godmorgen"}).json()
    # A reply answers one of her messages, never one of the team's.
    refused = api.post(f"/api/v1/patients/{patient}/messages", headers=nurse.headers,
                       json={"text": "igen", "reply_to": own["id"]})
    assert refused.status_code == 404
    assert refused.json()["type"] == "urn:kol:problem:message-not-found"
    assert api.post(f"/api/v1/patients/{patient}/messages", headers=nurse.headers,
                    json={"text": "   "}).status_code == 422
    assert api.get("/api/v1/tablet/messages",
                   auth=httpx.BasicAuth(tablet.device.device_id, "wrong")).status_code == 401


def test_fhir_export_carries_the_messages_as_communications(
        api: TestClient, tablet: Tablet, committed_conn: psycopg.Connection[Any]) -> None:
    patient = tablet.device.patient_id
    nurse = nurse_of(api, committed_conn, patient)
    tablet.note("Kan I ringe?", callback=True)
    tablet.receipt()
    theirs = api.get(f"/api/v1/patients/{patient}/messages", headers=nurse.headers).json()[0]
    api.post(f"/api/v1/patients/{patient}/messages", headers=nurse.headers,
             json={"text": "Ja, kl. 14.", "reply_to": theirs["id"]})
    response = api.get(f"/api/v1/patients/{patient}/fhir", headers=nurse.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert bundle_violations(body) == []
    bundle = Bundle.model_validate(body)
    communications = [(e.fullUrl, Communication.model_validate(e.resource.model_dump()))
                      for e in bundle.entry or []
                      if e.resource.get_resource_type() == "Communication"]
    assert len(communications) == 2
    (her_url, hers), (_, reply) = communications
    assert hers.status == "completed"
    assert hers.category[0].coding[0].code == "callback-request"
    assert hers.sender.reference == f"Patient/{patient}"
    assert hers.payload[0].contentString == "Kan I ringe?"
    assert hers.note[0].text == f"read by {nurse.username}"
    assert reply.category[0].coding[0].code == "reply"
    assert reply.recipient[0].reference == f"Patient/{patient}"
    assert reply.sender.display == nurse.username
    assert reply.inResponseTo[0].reference == her_url
    assert reply.note is None


def test_only_the_device_itself_may_publish_messages_and_older_devices_are_granted(
        settings: Settings, api: TestClient, tablet: Tablet, provision: Callable[..., Device],
        committed_conn: psycopg.Connection[Any]) -> None:
    older = provision()
    # A device provisioned before the addition: its broker role lacks the messages topic.
    with BrokerAdmin.from_settings(settings) as broker:
        broker.execute({"command": "removeRoleACL", "rolename": device_role(older.device_id),
                        "acltype": "publishClientSend",
                        "topic": device_topics(older.device_id).messages})
    with Tablet(settings, older) as old:
        old.note("Hører I mig?", msg_id="before-grant")
        # Forged onto another device's topic: refused by the broker.
        old.publish(tablet.topic, encode_note("forged", text="Falsk", callback=False,
                                              written_at=NOW.isoformat(),
                                              sent_at=NOW.isoformat()))
        tablet.note("Kontrol", msg_id="control")
        assert tablet.receipt()["msg_id"] == "control"
        assert old.messages.empty()
        assert stored(committed_conn, older.patient_id) == []
        assert [r["body"] for r in stored(committed_conn, tablet.device.patient_id)] == [
            "Kontrol"]
        with BrokerAdmin.from_settings(settings) as broker:
            assert devices_service.grant_addition_topics(committed_conn, broker=broker) >= 1
            # Granting twice changes nothing.
            devices_service.grant_addition_topics(committed_conn, broker=broker)
        old.note("Hører I mig?", msg_id="before-grant")  # the outbox sends it again
        assert old.receipt()["accepted"] == 1
    wait_for(lambda: stored(committed_conn, older.patient_id), what="the older device's message")
