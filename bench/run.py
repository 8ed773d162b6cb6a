#!/usr/bin/env python3
"""Benchmark runner: prints wall time and peak memory of `ev eval` on the
generated workload for each N (median of several runs), ev's time by phase
(load = parse + resolve, force = evaluating every value, serialise), and
the same for `nix-instantiate` when it is installed, with the ratio.
`bench/profile.py` shows where the time goes by function.

Usage: bench/run.py [--runs K] [N ...]   (default N: 1000 10000 100000 300000)
"""
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen_eval  # noqa: E402


def measure(argv, cwd):
    """Runs argv once; returns (seconds, peak RSS in MiB, stderr) of that
    child alone. ev is run with EV_TIMINGS=1: its stderr then names the
    time of each phase (a few clock reads: no measurable cost)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "EV_TIMINGS": "1"})
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed: {stderr[:2000]}")
    return elapsed, usage.ru_maxrss / 1024.0, stderr


def phase_ms(stderr, phase):
    """The milliseconds `EV_TIMINGS` reported for the phase starting `phase`."""
    m = re.search(re.escape(phase) + r"[^,]* ([0-9.]+) ms", stderr)
    return float(m.group(1)) if m else float("nan")


def timings(argv, cwd, runs):
    """(median seconds, best seconds, peak MiB, median ms by phase) over `runs` runs."""
    samples = [measure(argv, cwd) for _ in range(runs)]
    times = [s[0] for s in samples]
    phases = {p: statistics.median(phase_ms(s[2], p) for s in samples) for p in ("load", "force", "serialise")}
    return statistics.median(times), min(times), max(s[1] for s in samples), phases


def main():
    args = sys.argv[1:]
    runs = 5
    if args[:1] == ["--runs"]:
        runs = int(args[1])
        args = args[2:]
    sizes = [int(a) for a in args] or [1000, 10000, 100000, 300000]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ev-cli"], cwd=ROOT, check=True)
    ev = os.path.join(ROOT, "target", "release", "ev")
    nix = shutil.which("nix-instantiate")
    print(f"eval benchmark: N machines -> 3N records, compact JSON output ({runs} runs: median, best; peak RSS)")
    header = f"{'N':>8} {'records':>9} {'ev med s':>9} {'ev best':>8} {'ev MiB':>8} {'load ms':>8} {'force ms':>9} {'ser. ms':>8}"
    if nix:
        header += f" {'nix med s':>10} {'nix MiB':>8} {'nix/ev':>7}"
    print(header)
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "everything.ev"), "w") as f:
                f.write(gen_eval.EV.format(n=n))
            with open(os.path.join(d, "bench.nix"), "w") as f:
                f.write(gen_eval.NIX.format(n=n))
            count = subprocess.run(
                [ev, "eval", "-C", d, "--format", "json", "-e", "result.count"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
            t, best, mem, ph = timings([ev, "eval", "-C", d, "--format", "json", "--compact", "-e", "result"], d, runs)
            line = f"{n:>8} {count:>9} {t:>9.3f} {best:>8.3f} {mem:>8.1f} {ph['load']:>8.1f} {ph['force']:>9.1f} {ph['serialise']:>8.1f}"
            if nix:
                nt, _, nmem, _ = timings([nix, "--eval", "--strict", "--json", "bench.nix"], d, runs)
                line += f" {nt:>10.3f} {nmem:>8.1f} {nt / t:>7.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
