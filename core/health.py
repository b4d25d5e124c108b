"""Reachability checks of the platform's dependencies, shared by /readyz and the services' start."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import Connection

from core import repository
from core.settings import Settings
from core.tls import secure_mqtt

HEALTH_CLIENT_PREFIX = "kol-health-"


def database_status(conn: Connection[Any]) -> dict[str, Any]:
    """TimescaleDB version and licence edition. The Apache-only build has hypertables and
    time_bucket but no compression or continuous aggregates; callers check ``edition``."""
    row = repository.timescaledb(conn)
    if row is None:
        return {"ok": False, "error": "timescaledb extension not installed"}
    edition = row["license"] or "unknown"
    return {"ok": True, "timescaledb": row["extversion"], "edition": edition,
            "compression": edition == "timescale", "continuous_aggregates": edition == "timescale"}


def broker_status(settings: Settings, timeout: float = 3.0) -> dict[str, Any]:
    """Connect to the broker with the gateway's credentials and wait for its CONNACK."""
    done = threading.Event()
    result: dict[str, Any] = {"ok": False, "error": "no CONNACK"}

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                   properties: Any) -> None:
        result.update({"ok": not reason.is_failure, "error": None if not reason.is_failure
                       else str(reason)})
        done.set()

    # A client id of its own names the probe in the broker's log, apart from the gateways that
    # share its credentials.
    client = mqtt.Client(CallbackAPIVersion.VERSION2,
                         client_id=HEALTH_CLIENT_PREFIX + secrets.token_hex(6),
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(settings.mqtt_gateway_username,
                           settings.mqtt_gateway_password.get_secret_value())
    secure_mqtt(client, settings)
    client.on_connect = on_connect
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
        client.loop_start()
        done.wait(timeout)
    except OSError as exc:
        result["error"] = str(exc)
    finally:
        client.disconnect()
        client.loop_stop()
    if result["ok"]:
        result.pop("error")
    return result


def redis_status(settings: Settings) -> dict[str, Any]:
    try:
        redis.Redis.from_url(settings.redis_url, socket_timeout=2).ping()
        return {"ok": True}
    except redis.RedisError as exc:
        return {"ok": False, "error": str(exc)}
