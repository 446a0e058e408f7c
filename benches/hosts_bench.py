#!/usr/bin/env python3
"""On-site modules at the issue's scale: 5 test hosts x 20 print queues, one printer
simulator. Measures Steward's first apply and its no-change plan (wall time, SSH round
trips per host). Needs root (scripts/lab-hosts). The Ansible and pyinfra side of the
comparison is not written yet.

    python3 benches/hosts_bench.py [--runs N]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(REPO, "scripts", "lab-hosts")
BIN = os.path.join(REPO, "target", "release", "steward")
HOSTS, QUEUES = 5, 20


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def steward(pool, *args):
    t = time.perf_counter()
    out = subprocess.run([BIN, *args], cwd=pool, capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"})
    took = time.perf_counter() - t
    if out.returncode not in (0, 2):
        sys.exit(f"steward {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    m = re.search(r"SSH: (\d+) login\(s\), (\d+) host\(s\), (\d+) round trip\(s\), at most (\d+)", out.stderr)
    return took, m.groups() if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sh("cargo", "build", "--release", "--quiet", cwd=REPO)
    lab = tempfile.mkdtemp(prefix="steward-bench-hosts-")
    pool = tempfile.mkdtemp(prefix="steward-bench-pool-")
    try:
        sh(LAB, "up", lab)
        net = open(os.path.join(lab, "subnet")).read().strip()
        sh(LAB, "host", lab, "printer", "20", "printer")
        for i in range(HOSTS):
            sh(LAB, "host", lab, f"pc{i}", str(5 + i), "server")
        sh("cp", "-r", os.path.join(REPO, "modules"), pool)
        os.makedirs(os.path.join(pool, "orgs"))
        with open(os.path.join(pool, "steward.yaml"), "w") as f:
            f.write(f"pool: bench\nssh: {{known_hosts: {lab}/known_hosts, identity_file: {lab}/id_ed25519}}\n")
        uri = f"ipp://10.231.{net}.20:8631/ipp/print"
        for i in range(HOSTS):
            queues = "".join(f"      - {{name: q{j:02}, uri: \"{uri}\", location: Room {j}}}\n" for j in range(QUEUES))
            with open(os.path.join(pool, "orgs", f"org{i}.yaml"), "w") as f:
                f.write(f"org: org{i}\nname: Org {i}\nhosts:\n  pc: {{address: 10.231.{net}.{5 + i}}}\n"
                        f"modules:\n  base: {{}}\n  printers:\n    server: pc\n    queues:\n{queues}")
        took, trips = steward(pool, "apply", "--yes", "--no-progress", "--stats")
        print(f"first apply ({HOSTS} hosts x {QUEUES} queues): {took:.2f} s; ssh {trips}")
        plans = []
        for _ in range(args.runs):
            took, trips = steward(pool, "plan", "--detailed-exitcode", "--stats")
            plans.append(took)
        print(f"no-change plan: min {min(plans):.3f} s, median {sorted(plans)[len(plans)//2]:.3f} s "
              f"over {args.runs} runs; ssh (logins, hosts, round trips, most for one host) = {trips}")
    finally:
        subprocess.run([LAB, "down", lab])
        shutil.rmtree(lab, ignore_errors=True)
        shutil.rmtree(pool, ignore_errors=True)


if __name__ == "__main__":
    main()
