"""Topic names of device protocol v1. A device may publish only under its own
``kol/v1/d/{device_id}/…`` and subscribe only to its receipts (the broker's ACL, made by
``devices.broker``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

PREFIX = "kol/v1/d"
DEVICE_ID_PATTERN = r"[A-Za-z0-9_-]{3,64}"
DEVICE_ID = re.compile(rf"^{DEVICE_ID_PATTERN}$")

InboundKind = Literal["readings", "status", "messages", "responses"]
"""What a device publishes to the platform. ``messages`` (docs/messages.md) and ``responses``
(questionnaire answers: the symptom diary, docs/questionnaires.md) are additions to v1."""
INBOUND_KINDS: tuple[InboundKind, ...] = get_args(InboundKind)

_KINDS: dict[str, InboundKind] = {k: k for k in INBOUND_KINDS}
_INBOUND = re.compile(rf"^{PREFIX}/({DEVICE_ID_PATTERN})/({'|'.join(INBOUND_KINDS)})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceTopics:
    """The topics of one device."""

    readings: str
    status: str
    receipts: str
    messages: str
    """The patient's messages to her team and her read receipts (docs/messages.md)."""
    responses: str
    """Questionnaire responses (addition, docs/questionnaires.md); receipted like readings."""


def device_topics(device_id: str) -> DeviceTopics:
    base = f"{PREFIX}/{device_id}"
    return DeviceTopics(readings=f"{base}/readings", status=f"{base}/status",
                        receipts=f"{base}/receipts", messages=f"{base}/messages",
                        responses=f"{base}/responses")


def inbound_subscriptions(shared_group: str | None = None) -> list[str]:
    """What the platform subscribes to: every device's inbound topics, as ``$share/{group}/…``
    when several gateways split the load."""
    topics = [f"{PREFIX}/+/{kind}" for kind in INBOUND_KINDS]
    return [f"$share/{shared_group}/{t}" for t in topics] if shared_group else topics


@lru_cache(maxsize=65_536)  # a device's few topics come again and again: no regex per message
def parse_inbound(topic: str) -> tuple[str, InboundKind] | None:
    """``(device_id, kind)`` of an inbound device topic, None if the topic is not one."""
    match = _INBOUND.match(topic)
    if match is None:
        return None
    return match.group(1), _KINDS[match.group(2)]
