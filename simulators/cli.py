"""``kol-sim``: the simulated fleet for demos and load, replays, labelled cohorts and plots.

    kol-sim fleet  --api-url URL --username U --password-env VAR --team T --patients N --speed S
    kol-sim replay --api-url URL --username U --password-env VAR --team T --patients N
                   --from 2026-01-01 --to 2026-03-01
    kol-sim cohort --out DIR --patients N --days D --seed S [--start 2026-01-01]
    kol-sim plot   --out docs/img/patient-180d.png [--seed 7] [--days 180] [--patient auto]
    kol-sim pair-code --api-url URL --username U --password-env VAR --team T
    kol-sim history --team "Demo Nord" --team "Demo Syd" [--patients-per-team 25] [--months 18]

See ``docs/simulators.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import urllib.error
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from core.db import connect
from core.settings import Settings, get_settings
from core.signals import stop_on_signals
from core.tls import client_context, mqtt_context
from simulators import repository as sim_repository
from simulators.cohort import LOCAL_TZ, Cohort, generate_cohort
from simulators.export import write_csv
from simulators.fleet import Fleet, FleetReport
from simulators.history import generate_history
from simulators.parameters import DEFAULT_TABLET, POPULATION_MIXES, TabletParameters
from simulators.plot import pick_patient, plot_patient
from simulators.provisioning import (
    WEEKDAYS,
    ApiClient,
    ApiError,
    FleetState,
    credentials_work,
    provision_patients,
    state_path,
)
from simulators.tablet import TabletStats

log = logging.getLogger("kol-sim")
FLEET_HORIZON_DAYS = 3650
"""The live fleet's simulated world is generated this far ahead of its start."""


def _local_day(text: str) -> datetime:
    """A date as local (Europe/Copenhagen) midnight; a full timestamp is taken as given."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), dtime(0), tzinfo=LOCAL_TZ)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a date or a timestamp with an offset")
    return moment


def _settings() -> Settings:
    stack_dir = os.environ.get("KOL_STACK_DIR")
    if stack_dir and "KOL_ENV_FILE" not in os.environ:
        os.environ["KOL_ENV_FILE"] = str(Path(stack_dir) / "kol.env")
    return get_settings()


def _tablet_params(args: argparse.Namespace) -> TabletParameters:
    return replace(DEFAULT_TABLET, malformed_rate=args.malformed_rate,
                   bad_reading_rate=args.bad_reading_rate)


def _password(args: argparse.Namespace) -> str:
    password = os.environ.get(args.password_env)
    if not password:
        raise SystemExit(f"kol-sim: environment variable {args.password_env} is not set")
    return password


def _progress(moment: datetime, stats: TabletStats) -> None:
    log.info("simulated %s: %d batches (%d readings) sent, %d resent, %d receipts, "
             "%d rejected readings, %d outages", moment.astimezone(LOCAL_TZ).strftime(
                 "%Y-%m-%d %H:%M"), stats.batches_sent, stats.readings_sent, stats.resends,
             stats.receipts, stats.rejected, stats.offline_periods)


def _prepared_state(args: argparse.Namespace, settings: Settings, *, world_start: datetime,
                    horizon_days: int, path: Path) -> tuple[FleetState, Cohort]:
    """The team's simulated patients, reused when their tablets' credentials still work,
    topped up to ``--patients`` through the API."""
    state = FleetState.load(path)
    if state is not None and state.devices and not credentials_work(
            settings.mqtt_host, settings.mqtt_port, state.devices[0],
            tls=mqtt_context(settings)):
        log.warning("the broker no longer knows %s (stack reset?): enrolling anew",
                    state.devices[0].device_id)
        state = None
    if state is None or state.seed != args.seed:
        state = FleetState(team=args.team, seed=args.seed, sim_start=world_start.isoformat(),
                           horizon_days=horizon_days, cohort_patients=args.patients,
                           clock=world_start.isoformat())
    state.cohort_patients = max(state.cohort_patients, args.patients)
    cohort = generate_cohort(n_patients=state.cohort_patients, days=state.horizon_days,
                             seed=state.seed, start=state.start_time())
    if len(state.devices) < args.patients:
        api = ApiClient(args.api_url, tls=client_context(settings))
        api.login(args.username, _password(args))
        provision_patients(api, state, cohort, args.patients, path)
    state.save(path)
    return state, cohort


def cmd_fleet(args: argparse.Namespace) -> int:
    settings = _settings()
    now = datetime.now(UTC)
    path = args.state or state_path(settings.stack_dir, args.team)
    state, cohort = _prepared_state(
        args, settings, world_start=now - timedelta(days=args.history_days),
        horizon_days=args.history_days + FLEET_HORIZON_DAYS, path=path)
    devices = state.devices[:args.patients]
    fleet = Fleet(cohort=cohort, devices=devices, host=settings.mqtt_host,
                  port=settings.mqtt_port, tls=mqtt_context(settings), seed=state.seed,
                  params=_tablet_params(args), diaries=args.diaries)
    stopped = stop_on_signals()
    clock = datetime.fromisoformat(state.clock)
    log.info("%d tablets of team %r from simulated %s at %gx (never ahead of now); state %s",
             len(devices), args.team, clock.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
             args.speed, path)

    def progress(moment: datetime, stats: TabletStats) -> None:
        _progress(moment, stats)
        state.clock = moment.isoformat()
        state.save(path)

    try:
        report = fleet.run(start=clock, speed=args.speed, duration=args.duration,
                           stop=stopped.is_set, progress=progress,
                           progress_every=args.progress_every)
    finally:
        fleet.close()
    state.clock = report.sim_end.isoformat()
    state.save(path)
    print(report.summary(), flush=True)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    settings = _settings()
    begin, end = args.from_, args.to
    if end > datetime.now(UTC) or end <= begin:
        raise SystemExit("kol-sim replay: need --from < --to <= now (the platform rejects "
                         "readings from the future)")
    path = args.state or state_path(settings.stack_dir, args.team)
    days = (end - begin) // timedelta(days=1) + 1
    state, _ = _prepared_state(args, settings, world_start=datetime.now(UTC),
                               horizon_days=FLEET_HORIZON_DAYS, path=path)
    # The replayed period is a world of its own, generated from --from with the same seed.
    cohort = generate_cohort(n_patients=state.cohort_patients, days=days, seed=state.seed,
                             start=begin)
    fleet = Fleet(cohort=cohort, devices=state.devices[:args.patients],
                  host=settings.mqtt_host, port=settings.mqtt_port,
                  tls=mqtt_context(settings), seed=state.seed,
                  params=_tablet_params(args), diaries=args.diaries)
    stopped = stop_on_signals()
    try:
        report: FleetReport = fleet.run(start=begin, end=end, speed=None,
                                        stop=stopped.is_set, progress=_progress,
                                        progress_every=args.progress_every)
        flushed = fleet.flush(args.receipt_wait)
    finally:
        fleet.close()
    print(report.summary(), flush=True)
    print(f"all batches receipted: {'yes' if flushed else 'NO'}", flush=True)
    return 0 if flushed else 1


def cmd_cohort(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    cohort = generate_cohort(n_patients=args.patients, days=args.days, seed=args.seed,
                             start=args.start, params=POPULATION_MIXES[args.mix])
    generated = time.perf_counter() - began
    paths = write_csv(cohort, args.out)
    print(f"{args.patients} patients × {args.days} days (seed {args.seed}, {args.mix} mix): "
          f"{len(cohort.readings)} readings, {len(cohort.episodes)} episodes; generated in "
          f"{generated:.2f} s")
    for path in paths.values():
        print(f"  {path}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    cohort = generate_cohort(n_patients=args.cohort_patients, days=args.days, seed=args.seed,
                             start=args.start)
    patient = pick_patient(cohort) if args.patient == "auto" else int(args.patient)
    print(plot_patient(cohort, patient, args.out))
    return 0


TABLET_DEMO_PATIENT = "Inger Sørensen (tablet-demo)"


def cmd_pair_code(args: argparse.Namespace) -> int:
    """The demo patient whose tablet is a browser tab (enrolled once, no simulated tablet),
    and a fresh pairing code for her."""
    api = ApiClient(args.api_url, tls=client_context(_settings()))
    api.login(args.username, _password(args))
    patient = api.find_patient(TABLET_DEMO_PATIENT, args.team)
    if patient is None:
        patient = api.create_patient(display_name=TABLET_DEMO_PATIENT, team=args.team,
                                     profile="kol-standard", schedule={
                                         "days": list(WEEKDAYS), "deadline": "12:00",
                                         "types": ["spo2", "pulse", "weight"]})
    started = api.start_pairing(patient)
    code = str(started["code"])
    print(f"{TABLET_DEMO_PATIENT}: pairing code {code[:4]} {code[4:]} (valid until "
          f"{datetime.fromisoformat(started['expires_at']).astimezone(LOCAL_TZ):%H:%M}), "
          f"or open {started['pair_url']}", flush=True)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    settings = _settings()
    with connect(settings, name="kol-sim-history") as conn:
        if sim_repository.team_has_patients(conn, args.teams[0]):
            print(f"kol-sim history: {args.teams[0]!r} has patients already; nothing written")
            return 0
        histories = generate_history(
            teams=args.teams, patients_per_team=args.patients_per_team, months=args.months,
            seed=args.seed, now=datetime.now(UTC), pro_interval_days=settings.pro_interval_days)
        written = sim_repository.insert_history(conn, histories)
        conn.commit()
    print(f"kol-sim history: {written} patients with {args.months} months of history in "
          f"{', '.join(args.teams)}")
    return 0


def _fleet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-url", required=True)
    p.add_argument("--username", required=True, help="an admin user")
    p.add_argument("--password-env", required=True,
                   help="name of the environment variable holding the password")
    p.add_argument("--team", required=True)
    p.add_argument("--patients", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--state", type=Path, default=None,
                   help="state file (default: $KOL_STACK_DIR/sim-fleet-<team>.json)")
    p.add_argument("--malformed-rate", type=float, default=DEFAULT_TABLET.malformed_rate)
    p.add_argument("--bad-reading-rate", type=float, default=DEFAULT_TABLET.bad_reading_rate)
    p.add_argument("--progress-every", type=float, default=10.0, help="real seconds")
    p.add_argument("--diaries", action="store_true",
                   help="the tablets also answer the symptom diary (simulators.diary)")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stdout)
    parser = argparse.ArgumentParser(prog="kol-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    fleet = sub.add_parser("fleet", help="enrol (once) and run a live fleet of tablets")
    _fleet_args(fleet)
    fleet.add_argument("--speed", type=float, default=1.0,
                       help="simulated seconds per real second (86400: a day per second)")
    fleet.add_argument("--history-days", type=int, default=30,
                       help="a new fleet's simulation starts this many days ago")
    fleet.add_argument("--duration", type=float, default=None, help="real seconds, then stop")
    fleet.set_defaults(func=cmd_fleet)

    replay = sub.add_parser("replay", help="send a past date range as fast as possible")
    _fleet_args(replay)
    replay.add_argument("--from", dest="from_", type=_local_day, required=True)
    replay.add_argument("--to", type=_local_day, required=True)
    replay.add_argument("--receipt-wait", type=float, default=60.0,
                        help="seconds to wait for the last receipts")
    replay.set_defaults(func=cmd_replay)

    default_start = datetime(2026, 1, 1, tzinfo=LOCAL_TZ)
    cohort = sub.add_parser("cohort", help="export a labelled cohort as CSV")
    cohort.add_argument("--out", type=Path, required=True)
    cohort.add_argument("--patients", type=int, required=True)
    cohort.add_argument("--days", type=int, required=True)
    cohort.add_argument("--seed", type=int, required=True)
    cohort.add_argument("--start", type=_local_day, default=default_start)
    cohort.add_argument("--mix", choices=sorted(POPULATION_MIXES), default="standard",
                        help="population mix (docs/simulators.md)")
    cohort.set_defaults(func=cmd_cohort)

    plot = sub.add_parser("plot", help="PNG of one simulated patient with exacerbations shaded")
    plot.add_argument("--out", type=Path, default=Path("docs/img/patient-180d.png"))
    plot.add_argument("--seed", type=int, default=7)
    plot.add_argument("--days", type=int, default=180)
    plot.add_argument("--start", type=_local_day, default=default_start)
    plot.add_argument("--cohort-patients", type=int, default=200,
                      help="size of the cohort the patient is picked from")
    plot.add_argument("--patient", default="auto", help="patient index, or auto")
    plot.set_defaults(func=cmd_plot)

    pair_code = sub.add_parser("pair-code", help="a pairing code for the tablet demo patient")
    pair_code.add_argument("--api-url", required=True)
    pair_code.add_argument("--username", required=True, help="a user of the team")
    pair_code.add_argument("--password-env", required=True,
                           help="name of the environment variable holding the password")
    pair_code.add_argument("--team", required=True)
    pair_code.set_defaults(func=cmd_pair_code)

    history = sub.add_parser("history", help="write months of care history for the outcomes "
                                             "page (once: skipped if the first team has "
                                             "patients)")
    history.add_argument("--team", dest="teams", action="append", required=True)
    history.add_argument("--patients-per-team", type=int, default=25)
    history.add_argument("--months", type=int, default=18)
    history.add_argument("--seed", type=int, default=19)
    history.set_defaults(func=cmd_history)

    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except (ApiError, urllib.error.URLError) as exc:
        print(f"kol-sim {args.command}: the API refused or is unreachable: {exc}",
              file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    raise SystemExit(main())
