"""Device provisioning and deactivation: the database row and the broker client change together.
Services never commit; the broker is changed last, so that a broker failure rolls the row back."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from psycopg import Connection

from core import audit, errors
from core.access import Viewer
from devices import broker_state, repository
from devices.broker import BrokerAdmin
from devices.schemas import DeviceCreated, DeviceDeactivated


def hash_device_secret(secret: str) -> str:
    """The secret is 256 random bits, so guessing it from its hash is as hard as guessing it: a
    slow password hash (argon2, for human-chosen passwords) would add cost and no safety. The
    broker authenticates devices with its own hash; this one lets an operator check a secret."""
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def provision(conn: Connection[Any], *, viewer: Viewer, broker: BrokerAdmin,
              patient_id: int) -> DeviceCreated:
    if not repository.patient_exists(conn, viewer, patient_id):
        raise errors.PatientNotFound()
    device_id, password, row = _new_device(conn, patient_id)
    audit.record(conn, viewer=viewer, action="device.provision", entity_type="device",
                 entity_id=device_id, detail={"patient_id": patient_id})
    broker.provision_device(device_id, password)
    return DeviceCreated(device_id=device_id, mqtt_username=device_id, mqtt_password=password,
                         patient_id=patient_id, created_at=row["created_at"])


def _new_device(conn: Connection[Any], patient_id: int) -> tuple[str, str, dict[str, Any]]:
    device_id = "tab-" + secrets.token_hex(10)
    password = secrets.token_urlsafe(32)
    row = repository.insert_device(conn, device_id=device_id, patient_id=patient_id,
                                   password_hash=hash_device_secret(password))
    return device_id, password, row


def replace_patient_device(conn: Connection[Any], *, broker: BrokerAdmin, patient_id: int,
                           actor_id: int, actor: str) -> tuple[DeviceCreated, list[str]]:
    """A new tablet for the patient, on the authority of the user who started the pairing: every
    other device of hers is deactivated (a patient has one tablet; a lost or replaced one must
    not send on). The new device and the revoked ones; broker last, as in :func:`provision`."""
    old = repository.deactivate_patient_devices(conn, patient_id)
    device_id, password, row = _new_device(conn, patient_id)
    for gone in old:
        audit.record_on_behalf(conn, actor_id=actor_id, actor=actor, action="device.deactivate",
                               entity_type="device", entity_id=gone,
                               detail={"patient_id": patient_id, "replaced_by": device_id})
    audit.record_on_behalf(conn, actor_id=actor_id, actor=actor, action="device.provision",
                           entity_type="device", entity_id=device_id,
                           detail={"patient_id": patient_id, "paired": True})
    if old:
        broker.revoke_devices(old)
    broker.provision_device(device_id, password)
    return DeviceCreated(device_id=device_id, mqtt_username=device_id, mqtt_password=password,
                         patient_id=patient_id, created_at=row["created_at"]), old


def authenticate(conn: Connection[Any], *, device_id: str, secret: str) -> int:
    """The patient of an active device whose secret matches; raises DeviceUnauthenticated."""
    row = repository.active_device_secret_hash(conn, device_id)
    if row is None or not hmac.compare_digest(row["password_hash"], hash_device_secret(secret)):
        raise errors.DeviceUnauthenticated()
    patient_id: int = row["patient_id"]
    return patient_id


def deactivate(conn: Connection[Any], *, viewer: Viewer, broker: BrokerAdmin,
               device_id: str) -> DeviceDeactivated:
    """Idempotent: deactivating again revokes at the broker again."""
    row = repository.deactivate_device(conn, viewer, device_id)
    if row is None:
        raise errors.DeviceNotFound(f"no device {device_id!r}")
    audit.record(conn, viewer=viewer, action="device.deactivate", entity_type="device",
                 entity_id=device_id, detail={"patient_id": row["patient_id"]})
    # Deleting the broker client drops a connected session at once.
    broker.revoke_device(device_id)
    return DeviceDeactivated(**row)


def deactivate_all(conn: Connection[Any], *, viewer: Viewer, broker: BrokerAdmin,
                   patient_id: int) -> list[DeviceDeactivated]:
    """Every active tablet of the patient (a discharge: the tablets are collected)."""
    return [deactivate(conn, viewer=viewer, broker=broker, device_id=device_id)
            for device_id in repository.active_device_ids(conn, viewer, patient_id)]


def grant_addition_topics(conn: Connection[Any], *, broker: BrokerAdmin) -> int:
    """Every active device may publish on the topics of the additions to v1 (devices provisioned
    before an addition lack it in their broker role); how many devices were checked."""
    device_ids = repository.all_active_device_ids(conn)
    broker.grant_addition_topics(device_ids)
    return len(device_ids)


def level_broker_state(conn: Connection[Any], *, state: dict[str, Any],
                       sources: list[broker_state.Source]
                       ) -> tuple[list[broker_state.Change], list[str]]:
    """A broker's parsed state file levelled with the database's devices
    (:func:`devices.broker_state.level`)."""
    return broker_state.level(state, devices=repository.device_states(conn), sources=sources)
