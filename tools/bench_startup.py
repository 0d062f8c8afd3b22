#!/usr/bin/env python
"""Start-up time of the ``siamtrack`` command against a budget: exit code 1 when over it.

    python tools/bench_startup.py                          # python -m siamtrack, from this checkout
    python tools/bench_startup.py --command .venv/bin/siamtrack --runs 9 --budget 0.5

Times, as the median of ``--runs`` runs after one untimed run, ``siamtrack --help`` and a usage error
(``siamtrack track --no-such-option``); that neither imports torch, OpenCV or matplotlib is a test
(tests/test_cli.py). A benchmark, not a test: the numbers depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {"--help": (["--help"], 0), "usage error": (["track", "--no-such-option"], 2)}


def time_run(command: list[str], env: dict[str, str], expected: int) -> float:
    """Wall time of one run of ``command``, which must exit with ``expected``."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != expected:
        sys.exit(f"{shlex.join(command)} exited with {done.returncode}, not {expected}:\n{done.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--command", help="the siamtrack command to time (default: this Python -m siamtrack, "
                                          "importing the package from this checkout)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (median reported)")
    parser.add_argument("--budget", type=float, default=0.5, help="seconds the median may take (default: 0.5)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.command:
        command = shlex.split(args.command)
    else:
        command = [sys.executable, "-m", "siamtrack"]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                          env.get("PYTHONPATH")]))
    over = False
    for name, (arguments, expected) in CASES.items():
        time_run(command + arguments, env, expected)  # warm the file cache
        times = [time_run(command + arguments, env, expected) for _ in range(args.runs)]
        median = statistics.median(times)
        over |= median > args.budget
        print(f"{shlex.join(command + arguments)}: median {median:.3f} s of {args.runs} runs "
              f"(min {min(times):.3f}, max {max(times):.3f}); budget {args.budget:.3f} s: "
              f"{'OVER' if median > args.budget else 'ok'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
