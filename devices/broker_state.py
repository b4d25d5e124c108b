"""A broker's device accounts brought level with the database (``kol-admin broker-sync``):
a broker that was down, restored from an old copy or left out of ``KOL_MQTT_ADMIN_HOSTS`` while
tablets were provisioned or revoked holds accounts the database no longer has, or lacks some.

The database says which devices exist and which are active; what an account may do is
:func:`devices.broker.device_acls`. Only the account's credentials cannot come from the
database: it keeps a SHA-256 of the tablet's secret (``service.hash_device_secret``), the broker
a salted PBKDF2 of its own, and the secret itself is kept nowhere, so neither hash can be made
from the other. A missing account's credentials are therefore copied from a broker that has the
account. The dynamic-security API of Mosquitto 2.0 cannot carry them (``getClient`` answers no
hash, ``createClient`` takes only a plain password), so this works on the brokers' state files
(``dynamic-security.json``): the lagging broker's, edited while it is stopped (the plugin reads
its file only at start and rewrites all of it after every change), and a copy of a healthy
broker's as the source of credentials."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.broker import device_acls, device_role

CREDENTIAL_FIELDS = ("password", "salt", "iterations")


class BrokerStateError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Change:
    action: str
    """``restore`` (account copied from a source), ``remove``, ``enable``, ``fix-roles``,
    ``fix-acls``."""
    device_id: str
    why: str

    def __str__(self) -> str:
        return f"{self.action} {self.device_id}: {self.why}"


@dataclass(frozen=True, slots=True)
class Source:
    """A healthy broker's state file, for the credentials of accounts the target lacks."""
    name: str
    clients: Mapping[str, dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> Source:
        return cls(name=str(path), clients={c["username"]: c for c in read_state(path)["clients"]})


def read_state(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(path.read_text())
    if not isinstance(state.get("clients"), list) or not isinstance(state.get("roles"), list):
        raise BrokerStateError(f"{path} is not a dynamic-security state file")
    return state


def refuse_if_running(path: Path) -> None:
    """The broker writes ``mosquitto.pid`` beside its state (deploy/mosquitto/write-config.sh)
    and removes it when it stops: edits to the file of a running broker would be lost at its
    next change, and it would go on serving the old accounts."""
    pid_file = path.parent / "mosquitto.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return
    if comm.startswith("mosquitto"):
        raise BrokerStateError(f"the broker of {path} is running (pid {pid}): stop it first")


def _acl_set(acls: Sequence[dict[str, Any]]) -> set[tuple[str, str, bool]]:
    return {(a["acltype"], a["topic"], bool(a.get("allow", False))) for a in acls}


def level(state: dict[str, Any], *, devices: Mapping[str, bool], sources: Sequence[Source]
          ) -> tuple[list[Change], list[str]]:
    """Change ``state`` (a broker's parsed state file) so that its device accounts are those of
    ``devices`` (device id → active): the changes, and the active devices whose account the
    target lacks and no source holds (their tablets must be paired again). Accounts that are not
    devices' (the gateway, the administrator) are left alone. A second run changes nothing."""
    clients: dict[str, dict[str, Any]] = {c["username"]: c for c in state["clients"]}
    roles: dict[str, dict[str, Any]] = {r["rolename"]: r for r in state["roles"]}
    changes: list[Change] = []
    unrestorable: list[str] = []

    # A device's account is the client whose own role device-<username> it has, or that role
    # alone (a revocation that stopped half-way).
    held = {name for name, c in clients.items()
            if any(r["rolename"] == device_role(name) for r in c.get("roles", []))}
    prefix = device_role("")
    held |= {name.removeprefix(prefix) for name in roles if name.startswith(prefix)}
    for device_id in sorted(held):
        if devices.get(device_id):
            continue
        clients.pop(device_id, None)
        roles.pop(device_role(device_id), None)
        why = "deactivated" if device_id in devices else "unknown to the database"
        changes.append(Change("remove", device_id, why))

    for device_id in sorted(d for d, active in devices.items() if active):
        role = device_role(device_id)
        client = clients.get(device_id)
        restored = client is None
        if client is None:
            source = next((s for s in sources if all(
                f in s.clients.get(device_id, {}) for f in CREDENTIAL_FIELDS)), None)
            if source is None:
                unrestorable.append(device_id)
                continue
            client = {"username": device_id, "clientid": device_id,
                      **{f: source.clients[device_id][f] for f in CREDENTIAL_FIELDS},
                      "roles": [{"rolename": role}]}
            clients[device_id] = client
            changes.append(Change("restore", device_id, f"credentials from {source.name}"))
        # The role before the client's list of roles: a live broker gives a client only a role
        # it has (live_commands).
        want = device_acls(device_id)
        if role not in roles or _acl_set(roles[role].get("acls", [])) != _acl_set(want):
            roles[role] = {"rolename": role, "acls": [{**acl, "priority": 0} for acl in want]}
            if not restored:
                changes.append(Change("fix-acls", device_id, "its own topics only"))
        if restored:
            continue
        if client.pop("disabled", False):
            changes.append(Change("enable", device_id, "was disabled"))
        if client.get("clientid") != device_id or \
                [r["rolename"] for r in client.get("roles", [])] != [role]:
            client["clientid"] = device_id
            client["roles"] = [{"rolename": role}]
            changes.append(Change("fix-roles", device_id, f"only its role {role}"))

    state["clients"] = list(clients.values())
    state["roles"] = list(roles.values())
    return changes, unrestorable


def live_commands(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """The dynamic-security commands that make the changes at a running broker (all but
    ``restore``: the API cannot set an account's credentials)."""
    commands: list[dict[str, Any]] = []
    for change in changes:
        device_id, role = change.device_id, device_role(change.device_id)
        match change.action:
            case "remove":
                commands += [{"command": "deleteClient", "username": device_id},
                             {"command": "deleteRole", "rolename": role}]
            case "enable":
                commands.append({"command": "enableClient", "username": device_id})
            case "fix-roles":
                commands.append({"command": "modifyClient", "username": device_id,
                                 "clientid": device_id, "roles": [{"rolename": role}]})
            case "fix-acls":
                # Deleting the role also drops its clients' sessions: none keeps what the wrong
                # ACLs let it subscribe to.
                commands += [{"command": "deleteRole", "rolename": role},
                             {"command": "createRole", "rolename": role,
                              "acls": device_acls(device_id)},
                             {"command": "addClientRole", "username": device_id,
                              "rolename": role}]
            case _:
                raise BrokerStateError(f"{change}: only the state file can be given it")
    return commands


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file at once, with its owner and mode (0600: it holds the hashes)."""
    old = path.stat()
    new = path.with_name(path.name + ".sync")
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(state, out, indent="\t")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(new, old.st_mode & 0o777)
    if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
        os.chown(new, old.st_uid, old.st_gid)
    os.replace(new, path)
