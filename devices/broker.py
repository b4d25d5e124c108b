"""Mosquitto dynamic-security administration over MQTT (``$CONTROL/dynamic-security/v1``).

Each device gets a broker client (username = client id = ``device_id``) and a role of its own that
allows exactly its topics. Disabling or deleting the client makes the broker drop a connected
session at once."""

from __future__ import annotations

import itertools
import json
import queue
import ssl
import threading
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from core.settings import Settings
from core.tls import mqtt_context
from protocol.topics import DeviceTopics, device_topics

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"


def addition_acls(topics: DeviceTopics) -> list[dict[str, Any]]:
    """What a device may publish beyond v1: its messages (docs/messages.md) and its
    questionnaire responses (docs/questionnaires.md)."""
    return [{"acltype": "publishClientSend", "topic": topic, "allow": True}
            for topic in (topics.messages, topics.responses)]


class BrokerAdminError(RuntimeError):
    pass


def device_role(device_id: str) -> str:
    return f"device-{device_id}"


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """Everything a device's role allows: publishing on its own topics, subscribing to its
    receipts; nothing else."""
    topics = device_topics(device_id)
    return [
        {"acltype": "publishClientSend", "topic": topics.readings, "allow": True},
        {"acltype": "publishClientSend", "topic": topics.status, "allow": True},
        *addition_acls(topics),
        {"acltype": "subscribeLiteral", "topic": topics.receipts, "allow": True},
    ]


class BrokerAdmin:
    """A blocking dynamic-security client; use as a context manager."""

    def __init__(self, *, host: str, port: int, username: str, password: str,
                 tls: ssl.SSLContext | None, timeout: float = 10.0,
                 peers: Sequence[BrokerAdmin] = ()) -> None:
        self._timeout = timeout
        self._peers = list(peers)
        """The other brokers of the layout: every command is carried out at each of them too."""
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._subscribed = threading.Event()
        self._connect_error: str | None = None
        self._seq = itertools.count(1)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                   client_id="")
        self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set_context(tls)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._host, self._port = host, port

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = 10.0) -> BrokerAdmin:
        """The admin of ``mqtt_admin_hosts`` (every broker node), else of ``mqtt_host``;
        ``timeout``: for the broker's connection and for each request's answer."""
        hosts = [h.strip() for h in settings.mqtt_admin_hosts.split(",") if h.strip()] \
            or [settings.mqtt_host]
        return cls.of_broker(settings, hosts[0], timeout=timeout, peers=[
            cls.of_broker(settings, host, timeout=timeout) for host in hosts[1:]])

    @classmethod
    def of_broker(cls, settings: Settings, host: str, *, port: int | None = None,
                  timeout: float = 10.0, peers: Sequence[BrokerAdmin] = ()) -> BrokerAdmin:
        """The admin of one broker (port: ``mqtt_port`` unless given)."""
        return cls(host=host, port=port or settings.mqtt_port,
                   username=settings.mqtt_admin_username,
                   password=settings.mqtt_admin_password.get_secret_value(),
                   tls=mqtt_context(settings), timeout=timeout, peers=peers)

    def __enter__(self) -> BrokerAdmin:
        # All or none: a device provisioned at some brokers only would be refused on the others.
        entered: list[BrokerAdmin] = []
        try:
            for admin in (self, *self._peers):
                admin._connect()
                entered.append(admin)
        except (BrokerAdminError, OSError):
            for admin in entered:
                admin._disconnect()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for admin in (self, *self._peers):
            admin._disconnect()

    def _connect(self) -> None:
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(self._timeout):
            self._client.loop_stop()
            raise BrokerAdminError(
                f"{self._host}: {self._connect_error or 'broker admin connection timed out'}")

    def _disconnect(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        if reason.is_failure:
            self._connect_error = f"broker refused admin connection: {reason}"
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._responses.put(json.loads(message.payload))
        except ValueError:
            pass

    def execute(self, *commands: dict[str, Any], tolerate: tuple[str, ...] = ()
                ) -> list[dict[str, Any]]:
        """Send commands in one request, at this broker and at every peer; raise on any error
        whose text contains none of ``tolerate``. The answers are this broker's."""
        results = self._execute_here(commands, tolerate)
        for peer in self._peers:
            peer._execute_here(commands, tolerate)
        return results

    def _execute_here(self, commands: Sequence[dict[str, Any]], tolerate: tuple[str, ...]
                      ) -> list[dict[str, Any]]:
        tagged = [{**cmd, "correlationData": str(next(self._seq))} for cmd in commands]
        wanted = {c["correlationData"] for c in tagged}
        self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        results: list[dict[str, Any]] = []
        while wanted:
            try:
                response = self._responses.get(timeout=self._timeout)
            except queue.Empty as exc:
                raise BrokerAdminError("no answer from the dynamic-security plugin") from exc
            for item in response.get("responses", []):
                if item.get("correlationData") in wanted:
                    wanted.discard(item["correlationData"])
                    results.append(item)
        errors = [f"{r['command']}: {r['error']}" for r in results
                  if r.get("error") and not any(t in r["error"] for t in tolerate)]
        if errors:
            raise BrokerAdminError("; ".join(errors))
        return results

    def accounts(self) -> dict[str, Any]:
        """This broker's clients and roles in the shape of its state file
        (``dynamic-security.json``), without credentials: the API answers none."""
        answers = {r["command"]: r["data"] for r in self._execute_here(
            [{"command": "listClients", "verbose": True},
             {"command": "listRoles", "verbose": True}], ())}
        return {"clients": answers["listClients"]["clients"],
                "roles": answers["listRoles"]["roles"]}

    def provision_device(self, device_id: str, password: str) -> None:
        self.provision_devices([(device_id, password)])

    def provision_devices(self, devices: list[tuple[str, str]], chunk: int = 100) -> None:
        """Provision ``(device_id, password)`` pairs, many per request: a round trip per device is
        slow for a fleet (load tests provision thousands). The plugin rewrites its whole
        configuration file after every command, so the cost per device grows with the number of
        clients; ``chunk`` keeps each request well inside the answer timeout."""
        for i in range(0, len(devices), chunk):
            part = devices[i:i + chunk]
            # Any leftover client of the same name is removed first, so the new password holds.
            self.revoke_devices([device_id for device_id, _ in part])
            commands: list[dict[str, Any]] = []
            for device_id, password in part:
                role = device_role(device_id)
                commands += [
                    {"command": "createRole", "rolename": role, "acls": device_acls(device_id)},
                    {"command": "createClient", "username": device_id, "clientid": device_id,
                     "password": password, "roles": [{"rolename": role}]},
                ]
            self.execute(*commands)

    def grant_addition_topics(self, device_ids: Sequence[str], chunk: int = 50) -> None:
        """Let devices provisioned before the additions to v1 publish on their topics (the
        messages of docs/messages.md, the responses of docs/questionnaires.md); a device that may
        already is left as it is."""
        for i in range(0, len(device_ids), chunk):
            self.execute(*({"command": "addRoleACL", "rolename": device_role(device_id), **acl}
                           for device_id in device_ids[i:i + chunk]
                           for acl in addition_acls(device_topics(device_id))),
                         # A device row without a broker client (never provisioned there)
                         # cannot connect at all: nothing to grant.
                         tolerate=("already exists", "Role not found"))

    def revoke_device(self, device_id: str) -> None:
        """Delete the device's broker client and role; a connected session is dropped."""
        self.revoke_devices([device_id])

    def revoke_devices(self, device_ids: list[str]) -> None:
        commands: list[dict[str, Any]] = []
        for device_id in device_ids:
            commands += [{"command": "deleteClient", "username": device_id},
                         {"command": "deleteRole", "rolename": device_role(device_id)}]
        self.execute(*commands, tolerate=("not found",))
