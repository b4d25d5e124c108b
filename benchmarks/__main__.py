"""``python -m benchmarks`` (``make bench``): every benchmark in turn against the stack of
``KOL_ENV_FILE`` (``make bench`` brings it up first), each printing its own figures and ratios.
Name some to run only those: ``python -m benchmarks ingest alerts``."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ["alerts", "alert_quality", "ingest", "fleet", "api", "notifications", "dashboard"]


def main(argv: list[str]) -> int:
    chosen = argv or BENCHMARKS
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    failed = []
    for name in chosen:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
