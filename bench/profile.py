#!/usr/bin/env python3
"""Where `ev eval` spends its time on the benchmark workload (bench/run.py's
N machines -> 3N DNS records, compact JSON): wall time by phase (load =
parse + resolve, evaluate, force, serialise; `EV_TIMINGS=1`, median of
several runs), then a sampled profile (`perf record`) of one run: the share
of samples by crate and module, and the functions with the most samples
of their own.

Builds the `profiling` profile (release with line tables). Needs `perf`;
without it, only the phases are printed.

Usage: bench/profile.py [--runs K] [--top T] [N]   (default N: 100000)
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen_eval  # noqa: E402

PHASE = re.compile(r"([a-z][a-z ,()]*?) ([0-9.]+) ms")


def phases(ev, d, runs):
    """{phase: [ms per run]} from EV_TIMINGS=1 runs."""
    found = defaultdict(list)
    for _ in range(runs):
        proc = subprocess.run(
            [ev, "eval", "-C", d, "--format", "json", "--compact", "-e", "result"],
            cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "EV_TIMINGS": "1"}, check=True,
        )
        line = next(l for l in proc.stderr.splitlines() if l.startswith("timings: "))
        for name, ms in PHASE.findall(line[len("timings: "):]):
            found[name.strip(", ")].append(float(ms))
    return found


def module_of(symbol):
    """`ev_core::eval::Evaluator::force` -> `ev_core::eval`; others by crate."""
    symbol = re.sub(r"^<", "", symbol)
    parts = [p for p in symbol.split("::") if p]
    if parts and parts[0].startswith("ev_"):
        return "::".join(parts[:2])
    if parts and parts[0] in ("core", "alloc", "std", "hashbrown", "serde_json", "indexmap"):
        return parts[0]
    if symbol.startswith(("mi_", "_mi_")):
        return "mimalloc (allocation)"
    if symbol.startswith(("__memmove", "__memcpy", "__memset", "__memcmp")):
        return "libc (copies)"
    if symbol.startswith(("clear_page", "do_", "handle_mm", "__handle_mm", "_raw_spin", "native_", "asm_", "exc_page")):
        return "kernel (page faults of fresh memory)"
    return "other"


def profile(ev, d, top):
    data = os.path.join(d, "perf.data")
    subprocess.run(
        ["perf", "record", "-q", "-F", "1999", "-o", data, "--",
         ev, "eval", "-C", d, "--format", "json", "--compact", "-e", "result"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
    )
    report = subprocess.run(
        ["perf", "report", "-q", "-i", data, "--stdio", "--no-children", "--sort", "symbol",
         "--percent-limit", "0.01"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+\[[.k]\]\s+(.*)$", line)
        if m:
            rows.append((float(m.group(1)), re.sub(r"(\s+-)+\s*$", "", m.group(2)).strip()))
    by_module = defaultdict(float)
    for share, symbol in rows:
        by_module[module_of(symbol)] += share
    print("\nsamples by module (self time):")
    for module, share in sorted(by_module.items(), key=lambda kv: -kv[1]):
        print(f"  {share:6.1f}%  {module}")
    print(f"\nfunctions with the most samples of their own (top {top}):")
    for share, symbol in rows[:top]:
        print(f"  {share:6.1f}%  {symbol[:110]}")


def main():
    args = sys.argv[1:]
    runs, top = 5, 25
    while args[:1] in (["--runs"], ["--top"]):
        if args[0] == "--runs":
            runs = int(args[1])
        else:
            top = int(args[1])
        args = args[2:]
    n = int(args[0]) if args else 100000
    subprocess.run(["cargo", "build", "--profile", "profiling", "-q", "-p", "ev-cli"], cwd=ROOT, check=True)
    ev = os.path.join(ROOT, "target", "profiling", "ev")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "everything.ev"), "w") as f:
            f.write(gen_eval.EV.format(n=n))
        found = phases(ev, d, runs)
        total = sum(statistics.median(v) for v in found.values())
        print(f"ev eval, N={n} machines -> {3 * n} records, compact JSON: wall time by phase (median of {runs})")
        for name, values in found.items():
            ms = statistics.median(values)
            print(f"  {name:<28} {ms:9.1f} ms  {100 * ms / total:5.1f}%")
        print(f"  {'total':<28} {total:9.1f} ms")
        if shutil.which("perf"):
            profile(ev, d, top)
        else:
            print("\n(perf is not installed: no function profile)")


if __name__ == "__main__":
    main()
