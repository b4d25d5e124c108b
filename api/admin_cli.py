"""``kol-admin``: operator commands that run against the database directly (the first admin is
created here, never from a default password in the code)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from core.access import ROLE_RANK, SYSTEM
from core.db import connect
from core.errors import DomainError
from core.migrate import migrate
from core.passwords import generate_password
from core.settings import get_settings, owner_database_url
from devices import broker_state
from devices import service as devices_service
from devices.broker import BrokerAdmin
from users import service as users_service
from users.schemas import UserCreate


def _migrate(args: argparse.Namespace) -> int:
    applied = migrate(owner_database_url())
    for m in applied:
        print(f"applied {m.version:04d}_{m.name}")
    if not applied:
        print("schema up to date")
    return 0


def _create_user(args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.generate_password:
        password = generate_password()
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    data = UserCreate(username=args.username, password=password, role=args.role,
                      display_name=args.display_name or args.username, teams=args.team)
    with connect(get_settings(), name="kol-admin") as conn:
        try:
            user = users_service.create_user(conn, viewer=SYSTEM, data=data)
        except DomainError as exc:
            print(f"kol-admin: {exc.detail}", file=sys.stderr)
            return 1
    print(f"created {user.role} {user.username} (id {user.id}) in teams {', '.join(user.teams)}")
    if args.generate_password:
        print(f"password: {password}")
    return 0


def _provision_device(args: argparse.Namespace) -> int:
    settings = get_settings()
    with connect(settings, name="kol-admin") as conn, BrokerAdmin.from_settings(settings) as broker:
        try:
            created = devices_service.provision(conn, viewer=SYSTEM, broker=broker,
                                                patient_id=args.patient_id)
        except DomainError as exc:
            print(f"kol-admin: {exc.detail}", file=sys.stderr)
            return 1
    print(f"device_id: {created.device_id}\nmqtt_username: {created.mqtt_username}\n"
          f"mqtt_password: {created.mqtt_password}")
    return 0


def _deactivate_device(args: argparse.Namespace) -> int:
    settings = get_settings()
    with connect(settings, name="kol-admin") as conn, BrokerAdmin.from_settings(settings) as broker:
        try:
            devices_service.deactivate(conn, viewer=SYSTEM, broker=broker,
                                       device_id=args.device_id)
        except DomainError as exc:
            print(f"kol-admin: {exc.detail}", file=sys.stderr)
            return 1
    print(f"deactivated {args.device_id}")
    return 0


def _grant_addition_topics(args: argparse.Namespace) -> int:
    settings = get_settings()
    with connect(settings, name="kol-admin") as conn, BrokerAdmin.from_settings(settings) as broker:
        n = devices_service.grant_addition_topics(conn, broker=broker)
    print(f"{n} active devices may publish messages and questionnaire responses")
    return 0


def _broker_sync(args: argparse.Namespace) -> int:
    if (args.state_file is None) == (args.broker is None):
        print("kol-admin: broker-sync takes a state file or --broker, one of them",
              file=sys.stderr)
        return 2
    if args.broker is not None:
        return _broker_sync_live(args)
    target: Path = args.state_file
    try:
        if not args.dry_run:
            broker_state.refuse_if_running(target)
        state = broker_state.read_state(target)
        sources = [broker_state.Source.read(path) for path in args.credentials_from]
    except (OSError, ValueError, broker_state.BrokerStateError) as exc:
        print(f"kol-admin: {exc}", file=sys.stderr)
        return 1
    with connect(get_settings(), name="kol-admin") as conn:
        changes, unrestorable = devices_service.level_broker_state(conn, state=state,
                                                                   sources=sources)
    if changes and not args.dry_run:
        broker_state.write_state(target, state)
    return _report(args, str(target), changes, unrestorable,
                   "no --credentials-from file holds its account: pair its tablet again")


def _broker_sync_live(args: argparse.Namespace) -> int:
    settings = get_settings()
    host, _, port = args.broker.partition(":")
    admin = BrokerAdmin.of_broker(settings, host, port=int(port) if port else None)
    with connect(settings, name="kol-admin") as conn, admin:
        changes, unrestorable = devices_service.level_broker_state(
            conn, state=admin.accounts(), sources=[])
        commands = broker_state.live_commands(changes)
        if not args.dry_run:
            # The plugin rewrites its whole file after every command: a fleet's worth in parts.
            for i in range(0, len(commands), 100):
                admin.execute(*commands[i:i + 100], tolerate=("not found",))
    return _report(args, args.broker, changes, unrestorable,
                   "this broker lacks its account: stop the broker and run broker-sync on its "
                   "state file with --credentials-from (docs/operations.md)")


def _report(args: argparse.Namespace, target: str, changes: list[broker_state.Change],
            unrestorable: list[str], missing: str) -> int:
    verb = "would " if args.dry_run else ""
    for change in changes:
        print(f"{verb}{change}")
    for device_id in unrestorable:
        print(f"kol-admin: {device_id} is active but {missing}", file=sys.stderr)
    print(f"{len(changes)} changes {'to make at' if args.dry_run else 'made at'} {target}"
          if changes else f"{target} is level with the database")
    return 1 if unrestorable else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kol-admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(func=_migrate)

    create = sub.add_parser("create-user",
                            help="create a nurse, clinician, admin or (read-only) manager")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=list(ROLE_RANK))
    create.add_argument("--team", action="append", default=[],
                        help="team name (created if missing); repeat for several")
    create.add_argument("--display-name", default="")
    how = create.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    how.add_argument("--generate-password", action="store_true",
                     help="generate a password and print it once")
    create.set_defaults(func=_create_user)

    provision = sub.add_parser("provision-device",
                               help="create a tablet for a patient; prints its MQTT password once")
    provision.add_argument("--patient-id", type=int, required=True)
    provision.set_defaults(func=_provision_device)
    deactivate = sub.add_parser("deactivate-device",
                                help="deactivate a tablet and revoke it at the broker")
    deactivate.add_argument("device_id")
    deactivate.set_defaults(func=_deactivate_device)
    sub.add_parser("grant-addition-topics",
                   help="let tablets provisioned before the additions to v1 send messages and "
                        "questionnaire responses").set_defaults(func=_grant_addition_topics)
    sync = sub.add_parser(
        "broker-sync",
        help="bring a broker's device accounts level with the database before it rejoins "
             "(docs/operations.md)")
    sync.add_argument("state_file", type=Path, nargs="?",
                      help="the stopped broker's dynamic-security.json, changed in place")
    sync.add_argument("--broker", metavar="HOST[:PORT]",
                      help="instead, a running broker, over its dynamic-security API: removes, "
                           "enables and fixes accounts, names those it lacks")
    sync.add_argument("--credentials-from", type=Path, action="append", default=[],
                      metavar="FILE",
                      help="a copy of a healthy broker's dynamic-security.json: accounts the "
                           "target lacks are copied from it (repeat for several)")
    sync.add_argument("--dry-run", action="store_true",
                      help="print what would change, change nothing")
    sync.set_defaults(func=_broker_sync)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
