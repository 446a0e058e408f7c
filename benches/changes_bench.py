#!/usr/bin/env python3
"""What `--changed-since` costs on the synthetic pool (see pool_bench.py), and what the
Markdown plan of a first apply (every object new) looks like.

For each kind of commit (one org file, the accounts module every org uses, steward.yaml,
a README) it times `steward orgs --changed-since HEAD~1` (git + reading which modules each
org names) and `validate --changed-since HEAD~1` (which also loads the selected orgs).
Then it plans the whole pool against an empty lab with `--format markdown` and reports the
page size, which is capped to fit a pull-request comment.

Usage: benches/changes_bench.py [--orgs 200] [--users 100] [--groups 10] [--runs 5]
Needs a release build: cargo build --release
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pool_bench import BIN, BenchPool, generate, pool_args  # noqa: E402


def git(pool, *args):
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=b@example.org", *args],
                   cwd=pool, check=True, capture_output=True)


def timed(pool, args, env, runs):
    walls, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.run([BIN, *args], cwd=pool, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if p.returncode not in (0, 2):
            sys.exit(f"{args}: exit {p.returncode}\n{p.stderr[-2000:]}")
        out = p.stdout
    return statistics.median(walls), out


def main():
    ap = pool_args(5)
    a = ap.parse_args()
    env = dict(os.environ, NO_COLOR="1")
    with BenchPool("steward-changes-bench-") as bench:
        pool = bench.dir
        generate(pool, a.orgs, a.users, a.groups)
        subprocess.run([BIN, "lab", "init"], cwd=pool, check=True, capture_output=True)
        with open(os.path.join(pool, ".gitignore"), "w") as f:
            f.write("secrets/\n.steward/\n.lab-url\n")
        with open(os.path.join(pool, "README.md"), "w") as f:
            f.write("bench pool\n")
        git(pool, "init", "-q", "-b", "main")
        git(pool, "add", "-A")
        git(pool, "commit", "-qm", "base")

        print("| commit touches | orgs selected | `orgs --changed-since` | `validate --changed-since` |")
        print("|---|---|---|---|")
        for what, path in [("one org file", f"orgs/org{a.orgs // 2:03d}.yaml"), ("modules/accounts", "modules/accounts/module.yaml"),
                           ("steward.yaml", "steward.yaml"), ("README only", "README.md")]:
            with open(os.path.join(pool, path), "a") as f:
                f.write("# touched\n")
            git(pool, "commit", "-qam", f"touch {path}")
            t_orgs, out = timed(pool, ["orgs", "--changed-since", "HEAD~1"], env, a.runs)
            t_val, _ = timed(pool, ["validate", "--changed-since", "HEAD~1"], env, a.runs)
            n = len(out.splitlines())
            print(f"| {what} | {n} of {a.orgs} | {t_orgs * 1000:.0f} ms | {t_val * 1000:.0f} ms |")

        env["STEWARD_GOOGLE_URL"] = bench.start_lab()
        t_md, md = timed(pool, ["plan", "--all", "--format", "markdown"], env, 1)
        t_txt, txt = timed(pool, ["plan", "--all"], env, 1)
        print(f"\nfirst plan of the pool ({txt.strip().splitlines()[-1]}): text {len(txt) / 1e6:.1f} MB in "
              f"{t_txt:.2f} s; markdown {len(md):,} characters in {t_md:.2f} s")


if __name__ == "__main__":
    main()
