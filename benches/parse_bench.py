#!/usr/bin/env python3
"""`steward validate` of one large org file: wall time and peak RSS.

Generates an org file of about SIZE MB (people in one group and one org unit, the
shape that grows in real pools), then validates it RUNS times with this build and, with
--compare, another binary (given its own modules folder, since module files change
between versions), alternately so both see the same machine load.

Usage: benches/parse_bench.py [--mb 5] [--runs 3] [--compare BIN --compare-modules DIR]
Needs a release build: cargo build --release
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "steward")


def pool(modules, mb):
    d = tempfile.mkdtemp(prefix="steward-parse-bench-")
    shutil.copytree(modules, os.path.join(d, "modules"))
    with open(os.path.join(d, "steward.yaml"), "w") as f:
        f.write("pool: parse-bench\nsecrets: {dir: secrets}\n")
    os.makedirs(os.path.join(d, "orgs"))
    lines = ["org: big", "name: Big", "google:", "  domain: big.org", "  customer_id: C0big",
             "  admin: admin@big.org", "  credentials: secret:big/google", "modules:", "  accounts:",
             "    org_units: [/Staff]", "    groups:", "      - {email: staff@big.org, name: Staff}",
             "    users:"]
    size, i = 0, 0
    while size < mb * 1_000_000:
        line = f"      - {{email: user{i}@big.org, name: User Number{i}, org_unit: /Staff, groups: [staff]}}"
        lines.append(line)
        size += len(line) + 1
        i += 1
    with open(os.path.join(d, "orgs", "big.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.makedirs(os.path.join(d, "secrets", "big"))
    subprocess.run([BIN, "lab", "init"], cwd=d, check=True, capture_output=True)
    return d, i, os.path.getsize(os.path.join(d, "orgs", "big.yaml"))


def measure(binary, cwd):
    """Wall time and peak RSS (MB) of one validate run."""
    start = time.perf_counter()
    p = subprocess.Popen([binary, "validate"], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{binary}: validate failed:\n{p.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compare")
    ap.add_argument("--compare-modules")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    builds = [("this build", BIN, os.path.join(ROOT, "modules"))]
    if a.compare:
        builds.append(("compared", os.path.abspath(a.compare), os.path.abspath(a.compare_modules)))
    pools = {}
    try:
        for name, _, modules in builds:
            pools[name] = pool(modules, a.mb)
        _, people, size = pools["this build"]
        print(f"org file: {size / 1e6:.2f} MB, {people} people\n")
        print(f"| binary | wall (median of {a.runs}) | wall runs | peak RSS |")
        print("|---|---|---|---|")
        results = {name: [] for name, _, _ in builds}
        for _ in range(a.runs):
            for name, binary, _ in builds:
                results[name].append(measure(binary, pools[name][0]))
        for name, rs in results.items():
            walls = [w for w, _ in rs]
            print(f"| {name} | {statistics.median(walls):.2f} s | {', '.join(f'{w:.2f}' for w in walls)} | "
                  f"{max(r for _, r in rs):.0f} MB |")
    finally:
        for d, _, _ in pools.values():
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
