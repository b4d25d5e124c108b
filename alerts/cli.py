"""``kol-alerts``: re-evaluate a period, recover left-over hand-offs.

    kol-alerts evaluate --from 2026-03-01 --to 2026-03-08 [--patient 42]
    kol-alerts recover
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from alerts import evaluation
from alerts.recovery import RecoveryPolicy
from alerts.tasks import recover_pending_with
from core.db import connect, open_pool
from core.settings import get_settings


def _moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kol-alerts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate the readings measured in a period")
    evaluate.add_argument("--from", dest="start", type=_moment, required=True,
                          help="ISO date or time (UTC unless an offset is given)")
    evaluate.add_argument("--to", dest="end", type=_moment, required=True)
    evaluate.add_argument("--patient", type=int)
    commands.add_parser("recover", help="evaluate left-over ingest hand-offs now")
    args = parser.parse_args(argv)
    settings = get_settings()

    if args.command == "evaluate":
        if args.end <= args.start:
            parser.error("--to must be after --from")
        with connect(settings, name="kol-alerts") as conn:
            outcome = evaluation.evaluate_period(conn, measured_from=args.start,
                                              measured_to=args.end, patient_id=args.patient)
            conn.commit()
        print(f"evaluated {outcome.evaluated} readings: {outcome.breaches} breaches,"
              f" {outcome.opened} alerts opened, {outcome.updated} updated,"
              f" {outcome.escalated} escalated")
        return 0
    pool = open_pool(settings, name="kol-alerts", min_size=1, max_size=1)
    try:
        policy = RecoveryPolicy.from_settings(settings, older_than_seconds=0)
        print(f"recovered {recover_pending_with(pool, policy)} hand-offs")
    finally:
        pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
