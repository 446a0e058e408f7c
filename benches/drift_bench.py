#!/usr/bin/env python3
"""Drift of the synthetic pool (see pool_bench.py): API calls compared with a plan of
the same pool (the minimum), wall time, and the time to render the e-mails.

The pool is applied once, then changed by hand in the lab (one user renamed in every
tenth org), so the report has findings in 20 orgs. Each org gets a reporting contact,
so `--per-org` renders 1 + 200 messages. Mail goes to files (`--dry-run`).

Usage: benches/drift_bench.py [--orgs 200] [--users 100] [--groups 10] [--runs 3]
Needs a release build: cargo build --release
"""
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pool_bench import BIN, BenchPool, generate, lab_call, minimum, pool_args  # noqa: E402


def main():
    ap = pool_args(3)
    a = ap.parse_args()
    with BenchPool("steward-drift-bench-") as bench:
        pool = bench.dir
        generate(pool, a.orgs, a.users, a.groups)
        for name in os.listdir(os.path.join(pool, "orgs")):
            path = os.path.join(pool, "orgs", name)
            text = open(path).read()
            org = name[:-5]
            text = text.replace("google:", f"contacts:\n  - {{name: Contact, email: contact@{org}.example.org, reports: true}}\ngoogle:", 1)
            open(path, "w").write(text)
        with open(os.path.join(pool, "steward.yaml"), "a") as f:
            f.write("email:\n  from: it@pool.example\n  to: [team@pool.example]\n"
                    "  smtp: {host: 127.0.0.1, security: none}\n")
        subprocess.run([BIN, "lab", "init"], cwd=pool, check=True, capture_output=True)
        url = bench.start_lab()
        env = dict(os.environ, STEWARD_GOOGLE_URL=url, NO_COLOR="1", STEWARD_LOG="steward=info")
        subprocess.run([BIN, "apply", "--all", "--yes", "--no-progress"], cwd=pool, env=env, check=True,
                       capture_output=True)
        dump = lab_call(url, "/_lab/dump")
        least = minimum(dump)
        for t in dump["tenants"][:: 10]:
            u = dict(t["users"][1])
            u["name"] = {"fullName": "Changed By Hand"}
            lab_call(url, "/_lab/seed", {"customer_id": t["customer_id"], "users": [u]})

        rows = []
        for label, args in [("plan --all", ["plan", "--all"]),
                            ("drift --all --email --per-org --dry-run", ["drift", "--all", "--no-record", "--email",
                                                                         "--per-org", "--dry-run", "outbox"])]:
            walls, calls, render = [], [], []
            for _ in range(a.runs):
                lab_call(url, "/_lab/stats/reset", {})
                start = time.perf_counter()
                p = subprocess.run([BIN, *args], cwd=pool, env=env, capture_output=True, text=True)
                walls.append(time.perf_counter() - start)
                if p.returncode not in (0, 2):
                    sys.exit(f"{args}: exit {p.returncode}\n{p.stderr[-2000:]}")
                calls.append(lab_call(url, "/_lab/stats")["total"])
                m = re.search(r"messages=(\d+) ms=([\d.]+)", p.stderr)
                if m:
                    render.append((int(m.group(1)), float(m.group(2))))
            r = f"{render[-1][0]} messages in {statistics.median(x[1] for x in render):.0f} ms" if render else "-"
            rows.append(f"| `{label}` | {statistics.median(walls):.2f} s | {max(calls)} | {least} | "
                        f"{max(calls) / least:.2f} | {r} |")
        outbox = os.path.join(pool, "outbox")
        size = sum(os.path.getsize(os.path.join(outbox, f)) for f in os.listdir(outbox))
        print(f"pool: {a.orgs} orgs; findings in {len(dump['tenants'][::10])} orgs")
        print("\n| command | wall (median) | API calls | minimum | ratio | e-mail render |")
        print("|---|---|---|---|---|---|")
        print("\n".join(rows))
        print(f"\noutbox: {len(os.listdir(outbox))} messages, {size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
