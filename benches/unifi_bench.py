#!/usr/bin/env python3
"""UniFi benchmark: a no-change `plan --all` of ORGS sites x 3 Wi-Fi broadcasts x 4 access
points on the lab's controller, side by side with the Google plan of a pool of the same
number of orgs (pool_bench.py's: 100 users and 10 groups each), at each latency.

Reports wall time, peak RSS and the controller's API requests against the minimum the
API allows: per run 1 `GET /` (which flavour), 1 login, 1 `stat/sysinfo` (version),
1 integration `info`, 1 classic site list, ceil((ORGS + 1)/200) integration site pages
(the controller keeps a Default site of its own) and
1 page of devices waiting for adoption; per site 3 (`rest/wlanconf`, `rest/networkconf`
and the site's devices: neither API lists these for several sites at once).

Usage: benches/unifi_bench.py [--orgs 200] [--runs 3] [--latencies 0,50] [--max-in-flight 16]
Needs a release build: cargo build --release.
"""
import json
import math
import os
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pool_bench import BIN, BenchPool, generate, lab_call, pool_args, run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SETTINGS = """unifi:
  url: https://unifi.bench.example:8443
  fingerprint: "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00"
  username: steward
  password: secret:unifi-password
  api_key: secret:unifi-api-key
"""


def generate_unifi(pool, orgs, in_flight):
    import shutil
    shutil.copytree(os.path.join(ROOT, "modules"), os.path.join(pool, "modules"))
    with open(os.path.join(pool, "steward.yaml"), "w") as f:
        f.write("pool: bench\nsecrets: {dir: secrets}\nstate_dir: .steward\nparallelism: 10\n" + SETTINGS
                + f"  max_in_flight: {in_flight}\n")
    os.makedirs(os.path.join(pool, "orgs"))
    for o in range(orgs):
        org = f"org{o:03d}"
        os.makedirs(os.path.join(pool, "secrets", org), exist_ok=True)
        for name in ("staff", "office", "guest"):
            with open(os.path.join(pool, "secrets", org, f"{name}-wifi"), "w") as f:
                f.write(f"{org}-{name}-passphrase-2026")
        with open(os.path.join(pool, "orgs", f"{org}.yaml"), "w") as f:
            f.write(f"""org: {org}
name: Org {o}
modules:
  base: {{}}
  wifi:
    backend: unifi
    networks:
      - {{ssid: {org} staff, security: wpa2-wpa3, passphrase: secret:{org}/staff-wifi}}
      - {{ssid: {org} office, passphrase: secret:{org}/office-wifi, vlan: 10}}
      - {{ssid: {org} guests, passphrase: secret:{org}/guest-wifi, guest: true, vlan: 20}}
""")


def start_lab(pool):
    ready, env_file = os.path.join(pool, ".lab-url"), os.path.join(pool, ".lab-env")
    lab = subprocess.Popen([BIN, "lab", "serve", "--port", "0", "--ready-file", ready, "--env-file", env_file],
                           cwd=pool, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(ready) and open(ready).read().strip():
            break
        time.sleep(0.05)
    env = {}
    for line in open(env_file):
        k, v = line.strip().removeprefix("export ").split("=", 1)
        env[k] = v.strip("'")
    return lab, env


def unifi_call(url, path, body=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's own calls; Steward pins the certificate
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read() or b"{}")


def run_env(pool, env, args):
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return run(pool, env.get("STEWARD_GOOGLE_URL", ""), args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    ap = pool_args(3)
    ap.add_argument("--latencies", default="0,50")
    ap.add_argument("--max-in-flight", type=int, default=16, help="unifi.max_in_flight (Steward's default: 16)")
    a = ap.parse_args()
    with BenchPool("steward-unifi-bench-") as ubench, BenchPool("steward-google-bench-") as gbench:
        generate_unifi(ubench.dir, a.orgs, a.max_in_flight)
        subprocess.run([BIN, "lab", "init"], cwd=ubench.dir, check=True, capture_output=True)
        ubench.lab, uenv = start_lab(ubench.dir)
        uurl = uenv["STEWARD_UNIFI_URL"]
        code, wall, rss, out, err = run_env(ubench.dir, uenv, ["apply", "--all", "--yes", "--no-progress"])
        if code != 0:
            sys.exit(f"unifi apply failed:\n{out[-2000:]}\n{err[-2000:]}")
        print(f"first apply ({a.orgs} sites x 3 broadcasts): {wall:.2f} s, peak RSS {rss:.0f} MB")
        # Four access points in every site.
        for s in unifi_call(uurl, "/_lab/sites")["data"]:
            if s["desc"].startswith("org"):
                n = int(s["desc"][3:])
                aps = [{"_id": f"d{n:04d}{i}", "mac": f"74:83:c2:{n // 256:02x}:{n % 256:02x}:{i:02x}",
                        "name": f"AP {i}", "adopted": True, "state": 1, "upgradable": False,
                        "version": "6.6.77"} for i in range(4)]
                unifi_call(uurl, "/_lab/devices", {"site": s["desc"], "devices": aps})

        generate(gbench.dir, a.orgs, a.users, a.groups)
        subprocess.run([BIN, "lab", "init"], cwd=gbench.dir, check=True, capture_output=True)
        gurl = gbench.start_lab()
        code, wall, rss, out, err = run(gbench.dir, gurl, ["apply", "--all", "--yes", "--no-progress"])
        if code != 0:
            sys.exit(f"google apply failed:\n{out[-2000:]}\n{err[-2000:]}")

        # The controller has its own Default site besides the orgs'.
        least = 6 + math.ceil((a.orgs + 1) / 200) + 3 * a.orgs
        print(f"\n| latency | pool | wall (median of {a.runs}) | wall runs | peak RSS | API calls | minimum |")
        print("|---|---|---|---|---|---|---|")
        for lat in [int(x) for x in a.latencies.split(",")]:
            unifi_call(uurl, "/_lab/faults", {"latency_ms": lat})
            lab_call(gurl, "/_lab/faults", {"latency_ms": lat})
            res = {"unifi": ([], [], []), "google": ([], [], [])}
            for _ in range(a.runs):
                before = unifi_call(uurl, "/_lab/stats")["data"][0]
                code, wall, rss, out, err = run_env(ubench.dir, uenv, ["plan", "--all", "--detailed-exitcode"])
                if code != 0:
                    sys.exit(f"unifi plan exit {code} (expected 0):\n{out[-2000:]}\n{err[-2000:]}")
                after = unifi_call(uurl, "/_lab/stats")["data"][0]
                calls = sum(after.values()) - sum(before.values())
                for lst, v in zip(res["unifi"], (wall, rss, calls)):
                    lst.append(v)
                lab_call(gurl, "/_lab/stats/reset", {})
                code, wall, rss, out, err = run(gbench.dir, gurl, ["plan", "--all", "--detailed-exitcode"])
                if code != 0:
                    sys.exit(f"google plan exit {code} (expected 0):\n{out[-2000:]}\n{err[-2000:]}")
                for lst, v in zip(res["google"], (wall, rss, lab_call(gurl, "/_lab/stats")["total"])):
                    lst.append(v)
            for name, (walls, rsss, calls) in res.items():
                what = (f"UniFi: {a.orgs} sites x 3 broadcasts x 4 APs" if name == "unifi"
                        else f"Google: {a.orgs} orgs x {a.users} users")
                print(f"| {lat} ms | {what} | {statistics.median(walls):.2f} s | "
                      f"{', '.join(f'{w:.2f}' for w in walls)} | {max(rsss):.0f} MB | {max(calls)} | "
                      f"{least if name == 'unifi' else '(pool_bench.py)'} |")


if __name__ == "__main__":
    main()
