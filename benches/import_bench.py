#!/usr/bin/env python3
"""`steward import` of a large tenant against the lab at 0 ms latency: USERS users (every
tenth with an alias) in GROUPS groups, each user in one or two groups.

Reports the import's wall time, peak RSS, and the API requests the lab counted against
the minimum: 1 token + 1 domain list + 1 custom-schema list + 1 org-unit list + ceil(users/500) user pages +
ceil(groups/200) group pages + one member page (200 members) per group per 200 members.
Then checks the round trip: `plan` adopts every user and changes nothing else.

Usage: benches/import_bench.py [--users 5000] [--groups 300] [--runs 3]
Needs a release build: cargo build --release.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pool_bench import BIN, ROOT, BenchPool, lab_call, run  # noqa: E402

CID = "C0bigtenant"
DOMAIN = "big.example.org"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--groups", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with BenchPool("steward-import-bench-") as bench:
        pool = bench.dir
        import shutil
        shutil.copytree(os.path.join(ROOT, "modules"), os.path.join(pool, "modules"))
        with open(os.path.join(pool, "steward.yaml"), "w") as f:
            f.write("pool: bench\nsecrets: {dir: secrets}\nstate_dir: .steward\n")
        os.makedirs(os.path.join(pool, "orgs"))
        placeholder = (f"org: big\nname: Big\ngoogle:\n  domain: {DOMAIN}\n  customer_id: {CID}\n"
                       f"  admin: admin@{DOMAIN}\n  credentials: secret:big/google\nmodules: {{}}\n")
        org_file = os.path.join(pool, "orgs", "big.yaml")
        with open(org_file, "w") as f:
            f.write(placeholder)
        subprocess.run([BIN, "lab", "init"], cwd=pool, check=True, capture_output=True)
        url = bench.start_lab()
        users, members = [], []
        for i in range(a.users):
            u = {"primaryEmail": f"user{i:05d}@{DOMAIN}",
                 "name": {"givenName": f"User{i}", "familyName": "Example", "fullName": f"User{i} Example"},
                 "orgUnitPath": "/", "suspended": False, "externalIds": []}
            if i % 10 == 0:
                u["aliases"] = [f"u{i}@{DOMAIN}"]
            users.append(u)
            members.append({"group": f"g{i % a.groups:03d}@{DOMAIN}", "email": u["primaryEmail"]})
            if i % 2 == 0:
                members.append({"group": f"g{(i * 7 + 3) % a.groups:03d}@{DOMAIN}", "email": u["primaryEmail"]})
        groups = [{"email": f"g{g:03d}@{DOMAIN}", "name": f"Group {g}"} for g in range(a.groups)]
        lab_call(url, "/_lab/seed", {"customer_id": CID, "users": users, "groups": groups,
                                     "members": [m for m in {(m["group"], m["email"]): m for m in members}.values()]})
        dump = lab_call(url, "/_lab/dump")
        t = [t for t in dump["tenants"] if t["customer_id"] == CID][0]
        per_group = [len(m) for m in t["members"].values()]
        least = 1 + 1 + 1 + 1 + math.ceil(len(t["users"]) / 500) + math.ceil(len(t["groups"]) / 200) + \
            sum(max(1, math.ceil(n / 200)) for n in per_group)
        args = ["import", "big", "--force", "--google", DOMAIN, "--customer", CID, "--admin",
                f"admin@{DOMAIN}", "--credentials", "secret:big/google"]
        walls, rsss, calls = [], [], []
        for _ in range(a.runs):
            lab_call(url, "/_lab/stats/reset", {})
            code, wall, rss, out, err = run(pool, url, args)
            if code != 0:
                sys.exit(f"import failed:\n{out[-2000:]}\n{err[-2000:]}")
            walls.append(wall)
            rsss.append(rss)
            calls.append(lab_call(url, "/_lab/stats")["total"])
        print(f"tenant: {len(t['users'])} users, {len(t['groups'])} groups, {sum(per_group)} memberships")
        print(f"import: median {statistics.median(walls):.2f} s ({', '.join(f'{w:.2f}' for w in walls)}), "
              f"peak RSS {max(rsss):.0f} MB, API requests {max(calls)} (minimum {least})")
        code, wall, rss, out, err = run(pool, url, ["plan", "--format", "json"])
        plan = json.loads(out)
        actions = {}
        for c in plan["orgs"][0]["changes"]:
            actions[c["action"]] = actions.get(c["action"], 0) + 1
            if [f["name"] for f in c["fields"]] != ["managed_by"]:
                sys.exit(f"a first plan changes a live value: {c}")
        print(f"first plan after import: {actions} ({wall:.2f} s)")


if __name__ == "__main__":
    main()
