"""The FHIR R4 Bundle invariants (bdl-1 … bdl-12), checked explicitly: ``fhir.resources``
validates structure and types but not these constraints, which an independent validator
enforces."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from typing import Any

_UUID_URN = re.compile(r"urn:uuid:([0-9a-f-]{36})")


def bundle_violations(bundle: dict[str, Any]) -> list[str]:
    """Each violated invariant as ``"bdl-N: …"``; empty when the Bundle keeps them all."""
    kind = bundle.get("type")
    entries: list[dict[str, Any]] = bundle.get("entry", [])
    found = []
    if "total" in bundle and kind not in ("searchset", "history"):
        found.append("bdl-1: total only when a search or history")
    for index, entry in enumerate(entries):
        where = f"entry[{index}]"
        if "search" in entry and kind != "searchset":
            found.append(f"bdl-2: {where}.search only when a search")
        if ("request" in entry) != (kind in ("batch", "transaction", "history")):
            found.append(f"bdl-3: {where}.request mandatory for batch/transaction/history, "
                         "otherwise prohibited")
        if ("response" in entry) != (kind in ("batch-response", "transaction-response",
                                              "history")):
            found.append(f"bdl-4: {where}.response mandatory for batch-response/"
                         "transaction-response/history, otherwise prohibited")
        if not ({"resource", "request", "response"} & entry.keys()):
            found.append(f"bdl-5: {where} must contain a resource or a request or a response")
        full_url = entry.get("fullUrl", "")
        if "/_history/" in full_url:
            found.append(f"bdl-8: {where}.fullUrl cannot be a version specific reference")
        urn = _UUID_URN.fullmatch(full_url)
        if full_url.startswith("urn:uuid:") and not (urn and _is_uuid(urn.group(1))):
            found.append(f"{where}.fullUrl is not a valid urn:uuid")
    if kind != "history":
        versions = Counter((e.get("fullUrl"), (e.get("resource", {}).get("meta") or {})
                            .get("versionId")) for e in entries if "fullUrl" in e)
        found.extend(f"bdl-7: fullUrl {url} is not unique" for (url, _), n in versions.items()
                     if n > 1)
    first = entries[0].get("resource", {}) if entries else {}
    if kind == "document":
        identifier = bundle.get("identifier") or {}
        if not (identifier.get("system") and identifier.get("value")):
            found.append("bdl-9: a document must have an identifier with a system and a value")
        if "timestamp" not in bundle:
            found.append("bdl-10: a document must have a date")
        if first.get("resourceType") != "Composition":
            found.append("bdl-11: a document must have a Composition as the first resource")
    if kind == "message" and first.get("resourceType") != "MessageHeader":
        found.append("bdl-12: a message must have a MessageHeader as the first resource")
    return found


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
