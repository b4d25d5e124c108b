"""TLS for the platform's clients: every MQTT connection (gateway, provisioning, simulators,
health checks) and HTTP client verifies the server against ``KOL_TLS_CA_FILE`` (deploy/stack.sh's
local CA) or the system's trust store, and checks the host name."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt

from core.settings import Settings


def client_context(settings: Settings) -> ssl.SSLContext:
    """A verifying client context (certificate chain and host name, TLS 1.2 or newer)."""
    context = ssl.create_default_context(
        cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def mqtt_context(settings: Settings) -> ssl.SSLContext | None:
    """The context for MQTT connections; None only in a plain-text local demo."""
    return client_context(settings) if settings.mqtt_tls else None


def secure_mqtt(client: mqtt.Client, settings: Settings) -> mqtt.Client:
    """Make ``client`` connect with TLS (unless in a plain-text local demo); before connect."""
    context = mqtt_context(settings)
    if context is not None:
        client.tls_set_context(context)
    return client
