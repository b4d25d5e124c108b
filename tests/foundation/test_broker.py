from __future__ import annotations

import os
import queue
from pathlib import Path

import pytest

from core.settings import Settings
from devices.broker import BrokerAdmin, BrokerAdminError
from protocol.topics import device_topics, inbound_subscriptions
from tests.conftest import unique
from tests.mqtt_helpers import TestClient


@pytest.fixture
def broker(settings: Settings) -> BrokerAdmin:
    with BrokerAdmin.from_settings(settings) as admin:
        yield admin


FLEET = 2000
"""The tablets one broker of the pilot serves (docs/operations.md, sizing)."""


def test_the_broker_may_hold_a_fleets_connections(settings: Settings) -> None:
    """One descriptor per tablet: started by the stack as its own user, the broker must not be
    left at the login session's soft limit of 1024 open files."""
    pid = int((Path(os.environ["KOL_STACK_DIR"]) / "mosquitto" / "mosquitto.pid").read_text())
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    soft = int(next(line for line in limits if line.startswith("Max open files")).split()[3])
    assert soft > FLEET, f"the broker may open only {soft} files"


def test_broker_refuses_anonymous_clients(settings: Settings) -> None:
    with TestClient(settings, username=None, password=None) as anon:
        assert anon.connack is not None
        assert anon.connack.is_failure


def test_broker_refuses_wrong_password(settings: Settings, broker: BrokerAdmin) -> None:
    device = unique("dev")
    broker.provision_device(device, "right-password")
    with TestClient(settings, username=device, password="wrong", client_id=device) as client:
        assert client.connack is not None
        assert client.connack.is_failure
    broker.revoke_device(device)


def test_device_acl_allows_only_its_own_topics(settings: Settings, broker: BrokerAdmin) -> None:
    alice, bob = unique("dev"), unique("dev")
    broker.provision_device(alice, "alice-password")
    broker.provision_device(bob, "bob-password")
    try:
        with TestClient(settings, username=settings.mqtt_gateway_username,
                        password=settings.mqtt_gateway_password.get_secret_value()) as watcher, \
             TestClient(settings, username=alice, password="alice-password",
                        client_id=alice) as device:
            assert device.connack is not None
            assert not device.connack.is_failure
            assert not watcher.subscribe(inbound_subscriptions()[0])[0].is_failure

            device.publish(device_topics(bob).readings, b'{"forged": true}')
            device.publish(device_topics(alice).readings, b'{"own": true}')
            received = watcher.messages.get(timeout=5)
            assert received.topic == device_topics(alice).readings
            with pytest.raises(queue.Empty):
                watcher.messages.get(timeout=1)

            assert device.subscribe(device_topics(bob).receipts)[0].is_failure
            assert not device.subscribe(device_topics(alice).receipts)[0].is_failure
    finally:
        broker.revoke_device(alice)
        broker.revoke_device(bob)


def test_client_id_is_bound_to_the_device(settings: Settings, broker: BrokerAdmin) -> None:
    device = unique("dev")
    broker.provision_device(device, "pw-123456")
    try:
        with TestClient(settings, username=device, password="pw-123456",
                        client_id="someone-else") as client:
            assert client.connack is not None
            assert client.connack.is_failure
    finally:
        broker.revoke_device(device)


def test_revoked_device_is_disconnected_and_cannot_reconnect(settings: Settings,
                                                             broker: BrokerAdmin) -> None:
    device = unique("dev")
    broker.provision_device(device, "pw-123456")
    with TestClient(settings, username=device, password="pw-123456", client_id=device) as client:
        assert not client.connack.is_failure  # type: ignore[union-attr]
        broker.revoke_device(device)
        assert client.disconnected.wait(5)
    with TestClient(settings, username=device, password="pw-123456", client_id=device) as again:
        assert again.connack is not None
        assert again.connack.is_failure


def test_devices_are_provisioned_at_every_broker_or_at_none(settings: Settings) -> None:
    """KOL_MQTT_ADMIN_HOSTS names every broker node; a node that cannot be reached refuses the
    whole provisioning before any broker has changed (the multi-broker run is make ha-test)."""
    device = unique("dev")
    # The same broker under two names: each carries out the commands.
    both = settings.model_copy(update={"mqtt_admin_hosts": f"{settings.mqtt_host},127.0.0.1"})
    with BrokerAdmin.from_settings(both) as admin:
        admin.provision_device(device, "pw-123456")
    try:
        with TestClient(settings, username=device, password="pw-123456",
                        client_id=device) as client:
            assert client.connack is not None
            assert not client.connack.is_failure

        other = unique("dev")
        # A node that is down (nothing listens on 127.0.0.2).
        gone = settings.model_copy(update={"mqtt_admin_hosts": f"{settings.mqtt_host},127.0.0.2"})
        with pytest.raises((BrokerAdminError, OSError)):
            with BrokerAdmin.from_settings(gone) as admin:
                admin.provision_device(other, "pw-123456")
        with TestClient(settings, username=other, password="pw-123456",
                        client_id=other) as client:
            assert client.connack is not None
            assert client.connack.is_failure
    finally:
        with BrokerAdmin.from_settings(settings) as admin:
            admin.revoke_device(device)
