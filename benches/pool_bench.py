#!/usr/bin/env python3
"""Synthetic-pool benchmark for `steward plan --all` against the lab.

Generates a pool of ORGS orgs x USERS users x GROUPS groups (each user in one or two
groups, ~15 members a group), applies it once to fill the lab, then measures a
no-change `plan --all` at each latency: wall time, peak RSS of the steward process, and
API requests made (counted by the lab) against the minimum possible
(per org: 1 token + 1 org-unit list + user pages + group pages + member pages per group).

Every tenth user and every group's first group get an alias (as real tenants have
them), so refresh reads aliases too.

Usage: benches/pool_bench.py [--orgs 200] [--users 100] [--groups 10] [--runs 3] [--people] [--baseline]
                             [--compare OTHER_STEWARD_BINARY]
Needs a release build: cargo build --release. With --compare, each run of this build is
followed by a run of the other binary against the same lab and pool (side by side).
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "steward")


def generate(pool, orgs, users, groups, people=False):
    """With `people`, users have the pool's roles (org unit and a group each), every tenth
    an alias, and the last two of each org have left (`until` in the past)."""
    shutil.copytree(os.path.join(ROOT, "modules"), os.path.join(pool, "modules"))
    with open(os.path.join(pool, "steward.yaml"), "w") as f:
        f.write("pool: bench\nsecrets: {dir: secrets}\nstate_dir: .steward\nparallelism: 10\n")
        if people:
            f.write("modules:\n  accounts:\n    roles:\n"
                    "      staff: {org_unit: /Staff, groups: [g0]}\n"
                    "      volunteer: {org_unit: /Volunteers, groups: [g1]}\n")
    os.makedirs(os.path.join(pool, "orgs"))
    for o in range(orgs):
        org = f"org{o:03d}"
        dom = f"{org}.example.org"
        lines = [
            f"org: {org}", f"name: Org {o}", "google:", f"  domain: {dom}",
            f"  customer_id: C{o:07d}", f"  admin: admin@{dom}",
            f"  credentials: secret:{org}/google", "modules:", "  accounts:",
            "    org_units: [/Staff, /Volunteers]", "    groups:",
        ]
        for g in range(groups):
            lines.append(f"      - {{email: g{g}@{dom}, name: Group {g}}}")
        lines.append("    users:")
        for u in range(users):
            gs = [f"g{u % groups}"] + ([f"g{(u * 7 + 3) % groups}"] if u % 2 == 0 and (u * 7 + 3) % groups != u % groups else [])
            ou = "/Staff" if u % 3 else "/Volunteers"
            if not people:
                lines.append(f"      - {{email: u{u}@{dom}, name: User {u}, org_unit: {ou}, groups: [{', '.join(gs)}]}}")
                continue
            role = "staff" if u % 3 else "volunteer"
            gs = [g for g in gs if g not in ("g0", "g1")]
            extra = f", aliases: [a{u}@{dom}]" if u % 10 == 0 else ""
            extra += ", until: 2026-01-31" if u >= users - 2 else ""
            lines.append(f"      - {{email: u{u}@{dom}, name: User {u}, role: {role}, groups: [{', '.join(gs)}]{extra}}}")
        with open(os.path.join(pool, "orgs", f"{org}.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")


def pool_args(runs):
    """The synthetic pool's size and the run count, as every pool benchmark takes them."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgs", type=int, default=200)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--runs", type=int, default=runs)
    return ap


class BenchPool:
    """A temporary pool folder and its lab, both gone when the `with` block ends."""

    def __init__(self, prefix):
        if not os.path.exists(BIN):
            sys.exit("build first: cargo build --release")
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.lab = None

    def start_lab(self):
        self.lab, url = start_lab(self.dir)
        return url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.lab:
            self.lab.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_lab(pool):
    """Starts `steward lab serve` for the pool on a free port; returns (process, url)."""
    ready = os.path.join(pool, ".lab-url")
    lab = subprocess.Popen([BIN, "lab", "serve", "--port", "0", "--ready-file", ready], cwd=pool,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(ready) and open(ready).read().strip():
            break
        time.sleep(0.05)
    return lab, open(ready).read().strip()


def lab_call(url, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def add_aliases(url, dump):
    """Gives every tenth user and each org's first group an alias, "by hand"."""
    for t in dump["tenants"]:
        users = []
        for u in t["users"]:
            local, dom = u["primaryEmail"].split("@")
            if local.startswith("u") and int(local[1:]) % 10 == 0:
                u = dict(u, aliases=[f"alias-{local}@{dom}"])
                users.append(u)
        groups = []
        for g in t["groups"]:
            local, dom = g["email"].split("@")
            if local == "g0":
                groups.append(dict(g, aliases=[f"all-{local}@{dom}"]))
        lab_call(url, "/_lab/seed", {"customer_id": t["customer_id"], "users": users, "groups": groups})


def run(pool, url, args, binary=BIN):
    env = dict(os.environ, STEWARD_GOOGLE_URL=url, NO_COLOR="1")
    start = time.perf_counter()
    p = subprocess.Popen([binary, *args], cwd=pool, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    return code, wall, usage.ru_maxrss / 1024.0, out.decode(), err.decode()


def minimum(dump):
    total = 0
    for t in dump["tenants"]:
        total += 1 + 1  # token, org-unit list
        total += max(1, math.ceil(len(t["users"]) / 500))
        total += max(1, math.ceil(len(t["groups"]) / 200))
        total += sum(max(1, math.ceil(len(m) / 200)) for m in t["members"].values())
    return total


def main():
    ap = pool_args(3)
    ap.add_argument("--latencies", default="0,50")
    ap.add_argument("--compare", help="another steward binary, run side by side with this build")
    ap.add_argument("--people", action="store_true",
                    help="roles, aliases and two leavers per org (issue: people), as a second pool beside the plain one")
    ap.add_argument("--baseline", action="store_true",
                    help="the pool's standard: `steward baseline` beside `steward plan`, interleaved (issue: baseline)")
    a = ap.parse_args()
    if a.people:
        return people_side_by_side(a)
    if a.baseline:
        return baseline_side_by_side(a)
    binaries = [("this build", BIN)] + ([("compared", os.path.abspath(a.compare))] if a.compare else [])
    with BenchPool("steward-bench-") as bench:
        pool = bench.dir
        generate(pool, a.orgs, a.users, a.groups)
        subprocess.run([BIN, "lab", "init"], cwd=pool, check=True, capture_output=True)
        url = bench.start_lab()

        code, wall, rss, out, err = run(pool, url, ["apply", "--all", "--yes", "--no-progress"])
        if code != 0:
            sys.exit(f"apply failed:\n{out[-2000:]}\n{err[-2000:]}")
        print(f"first apply ({a.orgs} orgs): {wall:.2f} s, peak RSS {rss:.0f} MB; {out.strip().splitlines()[-1]}")
        if a.compare:
            # The compared build's first apply, on a pool and lab of its own.
            with BenchPool("steward-bench-compared-") as other:
                generate(other.dir, a.orgs, a.users, a.groups)
                subprocess.run([BIN, "lab", "init"], cwd=other.dir, check=True, capture_output=True)
                other_url = other.start_lab()
                code, wall, rss, out, err = run(other.dir, other_url, ["apply", "--all", "--yes", "--no-progress"],
                                                binary=os.path.abspath(a.compare))
                if code != 0:
                    sys.exit(f"compared apply failed:\n{out[-2000:]}\n{err[-2000:]}")
                print(f"first apply, compared build: {wall:.2f} s, peak RSS {rss:.0f} MB; "
                      f"{out.strip().splitlines()[-1]}")
        dump = lab_call(url, "/_lab/dump")
        add_aliases(url, dump)
        dump = lab_call(url, "/_lab/dump")
        least = minimum(dump)
        members = sum(len(m) for t in dump["tenants"] for m in t["members"].values())
        print(f"pool: {a.orgs} orgs, {sum(len(t['users']) for t in dump['tenants'])} users, "
              f"{sum(len(t['groups']) for t in dump['tenants'])} groups, {members} memberships")

        aliases = sum(len(u.get("aliases", [])) for t in dump["tenants"] for u in t["users"] + t["groups"])
        print(f"aliases: {aliases}")

        print("\n| latency | binary | wall (median of %d) | wall runs | peak RSS | API calls | minimum | ratio |" % a.runs)
        print("|---|---|---|---|---|---|---|---|")
        for lat in [int(x) for x in a.latencies.split(",")]:
            lab_call(url, "/_lab/faults", {"latency_ms": lat})
            results = {name: ([], [], []) for name, _ in binaries}
            # Interleaved, so both binaries see the same machine load.
            for _ in range(a.runs):
                for name, binary in binaries:
                    walls, rsss, calls = results[name]
                    lab_call(url, "/_lab/stats/reset", {})
                    code, wall, rss, out, err = run(pool, url, ["plan", "--all", "--detailed-exitcode"], binary)
                    if code != 0:
                        sys.exit(f"{name}: plan exit {code} (expected 0, no changes):\n{out[-2000:]}\n{err[-2000:]}")
                    walls.append(wall)
                    rsss.append(rss)
                    calls.append(lab_call(url, "/_lab/stats")["total"])
            for name, (walls, rsss, calls) in results.items():
                c = max(calls)
                print(f"| {lat} ms | {name} | {statistics.median(walls):.2f} s | {', '.join(f'{w:.2f}' for w in walls)} | "
                      f"{max(rsss):.0f} MB | {c} | {least} | {c / least:.2f} |")


def people_side_by_side(a):
    """The plain pool and the people pool (same size), each applied once, then their
    no-change plans interleaved at each latency."""
    pools = []
    for people in (False, True):
        bench = BenchPool("steward-bench-people-" if people else "steward-bench-plain-")
        generate(bench.dir, a.orgs, a.users, a.groups, people=people)
        subprocess.run([BIN, "lab", "init"], cwd=bench.dir, check=True, capture_output=True)
        url = bench.start_lab()
        code, wall, rss, out, err = run(bench.dir, url, ["apply", "--all", "--yes", "--no-progress"])
        if code != 0:
            sys.exit(f"apply failed:\n{out[-2000:]}\n{err[-2000:]}")
        pools.append(("people" if people else "plain", bench, url))
    try:
        print(f"\n| latency | pool | wall (median of {a.runs}) | wall runs | peak RSS | API calls | minimum |")
        print("|---|---|---|---|---|---|---|")
        for lat in [int(x) for x in a.latencies.split(",")]:
            results = {name: ([], [], []) for name, _, _ in pools}
            for _ in range(a.runs):
                for name, bench, url in pools:
                    lab_call(url, "/_lab/faults", {"latency_ms": lat})
                    lab_call(url, "/_lab/stats/reset", {})
                    code, wall, rss, out, err = run(bench.dir, url, ["plan", "--all", "--detailed-exitcode"])
                    if code != 0:
                        sys.exit(f"{name}: plan exit {code} (expected 0):\n{out[-2000:]}\n{err[-2000:]}")
                    walls, rsss, calls = results[name]
                    walls.append(wall)
                    rsss.append(rss)
                    calls.append(lab_call(url, "/_lab/stats")["total"])
            for name, bench, url in pools:
                walls, rsss, calls = results[name]
                least = minimum(lab_call(url, "/_lab/dump"))
                print(f"| {lat} ms | {name} | {statistics.median(walls):.2f} s | {', '.join(f'{w:.2f}' for w in walls)} | "
                      f"{max(rsss):.0f} MB | {max(calls)} | {least} |")
    finally:
        for _, bench, _ in pools:
            bench.__exit__(None, None, None)



# Every kind of item: inputs (org units every bench org has), a requirement, and each of
# the Google measures, for every org (the default tier).
STANDARD = """default_tier: standard
items:
  org-units: {title: Standard org units, module: accounts, inputs: {org_units: [/Staff, /Volunteers]}}
  groups: {title: Every org has groups, module: accounts, require: [{in: groups, some: {}}]}
  two-step: {title: 2-step verification, module: accounts, measure: two_step}
  few-admins: {title: At most two super administrators, module: accounts, measure: super_admins, at_most: 2}
  no-unused: {title: No account unused for 90 days, module: accounts, measure: unused_accounts, days: 90}
tiers:
  standard: {items: [org-units, groups, two-step, few-admins, no-unused]}
"""


def baseline_side_by_side(a):
    """One pool with a standard, applied once; then at each latency a no-change `plan`
    and `steward baseline` interleaved: wall time, peak RSS and API calls of each."""
    with BenchPool("steward-bench-baseline-") as bench:
        pool = bench.dir
        generate(pool, a.orgs, a.users, a.groups)
        with open(os.path.join(pool, "baseline.yaml"), "w") as f:
            f.write(STANDARD)
        subprocess.run([BIN, "lab", "init"], cwd=pool, check=True, capture_output=True)
        url = bench.start_lab()
        code, wall, rss, out, err = run(pool, url, ["apply", "--all", "--yes", "--no-progress"])
        if code != 0:
            sys.exit(f"apply failed:\n{out[-2000:]}\n{err[-2000:]}")
        print(f"pool: {a.orgs} orgs x {a.users} users x {a.groups} groups, standard of 5 items (3 measured)")
        print(f"\n| latency | command | wall (median of {a.runs}) | wall runs | peak RSS | API calls | time vs plan | calls vs plan |")
        print("|---|---|---|---|---|---|---|---|")
        commands = [("plan", ["plan", "--all", "--detailed-exitcode"], 0),
                    ("baseline", ["baseline", "--all", "--no-record", "--format", "json"], 2)]
        for lat in [int(x) for x in a.latencies.split(",")]:
            lab_call(url, "/_lab/faults", {"latency_ms": lat})
            results = {name: ([], [], []) for name, _, _ in commands}
            for _ in range(a.runs):
                for name, args, expected in commands:
                    lab_call(url, "/_lab/stats/reset", {})
                    code, wall, rss, out, err = run(pool, url, args)
                    if code != expected:
                        sys.exit(f"{name}: exit {code} (expected {expected}):\n{out[-2000:]}\n{err[-2000:]}")
                    walls, rsss, calls = results[name]
                    walls.append(wall)
                    rsss.append(rss)
                    calls.append(lab_call(url, "/_lab/stats")["total"])
            plan_wall = statistics.median(results["plan"][0])
            plan_calls = max(results["plan"][2])
            for name, _, _ in commands:
                walls, rsss, calls = results[name]
                w = statistics.median(walls)
                print(f"| {lat} ms | {name} | {w:.2f} s | {', '.join(f'{x:.2f}' for x in walls)} | "
                      f"{max(rsss):.0f} MB | {max(calls)} | {w / plan_wall:.2f} | {max(calls) / plan_calls:.2f} |")

if __name__ == "__main__":
    main()

