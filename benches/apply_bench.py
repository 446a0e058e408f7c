#!/usr/bin/env python3
"""First apply of a synthetic pool against the lab at a given latency, this build and,
with --compare, another build, each on a fresh pool and lab of its own.

A pool-wide apply works on several orgs at once (engine::ORGS_AT_ONCE); at a real
service's latency that, not CPU, decides how long it takes.

Usage: benches/apply_bench.py [--orgs 40] [--users 20] [--groups 4] [--latency-ms 50]
                              [--compare OTHER_STEWARD_BINARY]
Needs a release build: cargo build --release
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pool_bench as pb  # noqa: E402


def main():
    ap = pb.pool_args(1)
    ap.set_defaults(orgs=40, users=20, groups=4)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--compare", help="another steward binary")
    a = ap.parse_args()
    builds = [("this build", pb.BIN)] + ([("compared", os.path.abspath(a.compare))] if a.compare else [])
    for name, binary in builds:
        with pb.BenchPool("steward-apply-bench-") as bench:
            pb.generate(bench.dir, a.orgs, a.users, a.groups)
            subprocess.run([pb.BIN, "lab", "init"], cwd=bench.dir, check=True, capture_output=True)
            url = bench.start_lab()
            pb.lab_call(url, "/_lab/faults", {"latency_ms": a.latency_ms})
            code, wall, rss, out, err = pb.run(bench.dir, url, ["apply", "--all", "--yes", "--no-progress"],
                                               binary=binary)
            if code != 0:
                sys.exit(f"{name}: apply failed:\n{out[-2000:]}\n{err[-2000:]}")
            print(f"| {name} | {wall:.2f} s | {rss:.0f} MB | {out.strip().splitlines()[-1]} |")


if __name__ == "__main__":
    main()
