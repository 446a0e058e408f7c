#!/usr/bin/env python3
"""On-site modules at the issue's scale, side by side with Ansible and pyinfra.

Each tool gets 5 fresh test hosts of its own (scripts/lab-hosts: systemd, sshd, CUPS,
restic, hostapd), all sharing one printer simulator and one backup server (restic over
sftp). Per host: 20 print queues, 1 backup job (files, timer, repository) and 1 Wi-Fi
configuration (hostapd, checked before it replaces the running one). Measured, in one
run: each tool's first apply, then its no-change run, alternating between the tools
--runs times. Steward also reports its SSH logins and round trips (--stats).

Needs root. Installs ansible-core and pyinfra from PyPI into a venv on first use.

    python3 benches/hosts_bench.py [--runs N] [--tools steward,ansible,pyinfra]
                                   [--compare OTHER_STEWARD_BINARY] [--bare]

With --bare, every tool's hosts start bare (scripts/lab-hosts role `bare`: CUPS, restic
and hostapd purged, apt's only source the lab's package repository, no package lists
yet), so each first apply reads the lists and installs the packages as on a new server.

With --compare, another Steward build runs as one more tool ("compared") on hosts of its
own, alternating with the others, for a side-by-side of two builds in one run.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPARE = os.path.join(REPO, "benches", "compare")
LAB = os.path.join(REPO, "scripts", "lab-hosts")
BIN = os.path.join(REPO, "target", "release", "steward")
VENV = os.environ.get("STEWARD_BENCH_VENV", "/opt/steward-bench-venv")
HOSTS, QUEUES = 5, 20
RESTIC_PASSWORD = "bench-restic-password-81"
WIFI_PASSPHRASE = "bench-wifi-passphrase-27"
FIRST_OCTET = {"steward": 10, "ansible": 40, "pyinfra": 70, "compared": 100}


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def timed(cmd, cwd, ok=(0,), env=None):
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1", **(env or {})})
    took = time.perf_counter() - t
    if out.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return took, out


def venv():
    if not os.path.exists(os.path.join(VENV, "bin", "pyinfra")):
        sh(sys.executable, "-m", "venv", VENV)
        sh(os.path.join(VENV, "bin", "pip"), "install", "-q", "ansible-core", "pyinfra")
    return os.path.join(VENV, "bin")


class Lab:
    def __init__(self, d):
        self.d = d
        sh(LAB, "up", d)
        self.net = open(os.path.join(d, "subnet")).read().strip()

    def ip(self, n):
        return f"10.231.{self.net}.{n}"

    def host(self, name, n, role="server"):
        sh(LAB, "host", self.d, name, str(n), role)

    def sh(self, name, cmd):
        return sh(LAB, "exec", self.d, name, "sh", "-c", cmd).stdout


def prepare_client(lab, name, backup_key):
    """The sftp access a pool sets up by hand: root's key authorised on the backup
    server, the server's key known; and some files to back up."""
    key = lab.sh(name, "mkdir -p /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519.pub")
    lab.sh("backup", f"echo '{key.strip()}' >> ~restic/.ssh/authorized_keys")
    lab.sh(name, f"echo '{lab.ip(30)} {backup_key}' >> /root/.ssh/known_hosts && mkdir -p /srv/shared && echo hello > /srv/shared/a.txt")


def queues(lab):
    uri = f"ipp://{lab.ip(20)}:8631/ipp/print"
    return [{"name": f"q{j:02}", "uri": uri, "location": f"Room-{j}"} for j in range(QUEUES)]


def steward_pool(lab, pool, tool="steward"):
    shutil.copytree(os.path.join(REPO, "modules"), os.path.join(pool, "modules"))
    os.makedirs(os.path.join(pool, "orgs"))
    os.makedirs(os.path.join(pool, "secrets", "bench"))
    open(os.path.join(pool, "secrets", "bench", "restic"), "w").write(RESTIC_PASSWORD)
    open(os.path.join(pool, "secrets", "bench", "wifi"), "w").write(WIFI_PASSPHRASE)
    with open(os.path.join(pool, "steward.yaml"), "w") as f:
        # One restic password and one passphrase for every org: the pool's to share.
        f.write(f"pool: bench\nsecrets: {{dir: secrets, shared: [bench/restic, bench/wifi]}}\n"
                f"ssh: {{known_hosts: {lab.d}/known_hosts, identity_file: {lab.d}/id_ed25519}}\n")
    for i in range(HOSTS):
        n = FIRST_OCTET[tool] + i
        qs = "".join(f"      - {{name: {q['name']}, uri: \"{q['uri']}\", location: {q['location']}}}\n" for q in queues(lab))
        with open(os.path.join(pool, "orgs", f"org{i}.yaml"), "w") as f:
            f.write(f"org: org{i}\nname: Org {i}\nhosts:\n  pc: {{address: {lab.ip(n)}}}\n"
                    f"modules:\n  base: {{}}\n  printers:\n    server: pc\n    queues:\n{qs}"
                    f"  backups:\n    - name: shared-drive\n      host: pc\n      paths: [/srv/shared]\n"
                    f"      repository: \"sftp:restic@{lab.ip(30)}:/srv/restic/{tool}-{i}\"\n"
                    f"      password: secret:bench/restic\n"
                    f"  wifi:\n    driver: none\n    access_points: [pc]\n"
                    f"    networks:\n      - {{ssid: Org{i}-Staff, passphrase: secret:bench/wifi, guest: true}}\n")


def host_vars(lab, tool, i):
    return {"queues": queues(lab), "restic_password": RESTIC_PASSWORD,
            "repository": f"sftp:restic@{lab.ip(30)}:/srv/restic/{tool}-{i}",
            "ssid": f"Org{i}-Staff", "wifi_passphrase": WIFI_PASSPHRASE}


def ansible_inventory(lab, path):
    hosts = {}
    for i in range(HOSTS):
        hosts[f"pc{i}"] = {"ansible_host": lab.ip(FIRST_OCTET["ansible"] + i), **host_vars(lab, "ansible", i)}
    inv = {"all": {"hosts": hosts, "vars": {
        "ansible_user": "root", "ansible_ssh_private_key_file": f"{lab.d}/id_ed25519",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.d}/known_hosts -o StrictHostKeyChecking=yes"}}}
    json.dump(inv, open(path, "w"))


def pyinfra_inventory(lab, path):
    hosts = []
    for i in range(HOSTS):
        hosts.append((lab.ip(FIRST_OCTET["pyinfra"] + i), {
            "ssh_user": "root", "ssh_key": f"{lab.d}/id_ed25519",
            "ssh_known_hosts_file": f"{lab.d}/known_hosts", "ssh_strict_host_key_checking": "yes",
            **host_vars(lab, "pyinfra", i)}))
    with open(path, "w") as f:
        f.write(f"hosts = {hosts!r}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", default="steward,ansible,pyinfra")
    ap.add_argument("--keep", action="store_true", help="leave the test hosts up (to look at them)")
    ap.add_argument("--compare", help="another steward binary, run as the tool `compared`")
    ap.add_argument("--compare-old", action="store_true", help="the compared build has no --orgs-at-once (before it existed)")
    ap.add_argument("--bare", action="store_true", help="every tool's hosts start bare (packages installed from the lab's repository)")
    args = ap.parse_args()
    tools = args.tools.split(",")
    if args.compare:
        tools.append("compared")
    sh("cargo", "build", "--release", "--quiet", cwd=REPO)
    bin_dir = venv() if set(tools) - {"steward", "compared"} else ""
    work = tempfile.mkdtemp(prefix="steward-bench-hosts-")
    lab = Lab(os.path.join(work, "lab"))
    try:
        lab.host("printer", 20, "printer")
        lab.host("backup", 30)
        lab.sh("backup", "useradd -m -s /bin/sh restic && mkdir -p /srv/restic ~restic/.ssh && chown restic /srv/restic ~restic/.ssh")
        backup_key = open(os.path.join(lab.d, "hosts", "backup", "host_key.pub")).read().strip()
        for tool in tools:
            for i in range(HOSTS):
                name = f"{tool}{i}"
                lab.host(name, FIRST_OCTET[tool] + i, "bare" if args.bare else "server")
                prepare_client(lab, name, backup_key)
        lab.sh("backup", "chown -R restic ~restic/.ssh && chmod 600 ~restic/.ssh/authorized_keys")

        pool = os.path.join(work, "pool")
        os.makedirs(pool)
        steward_pool(lab, pool)
        compared_pool = os.path.join(work, "compared-pool")
        if args.compare:
            os.makedirs(compared_pool)
            steward_pool(lab, compared_pool, "compared")
        ansible_inventory(lab, os.path.join(work, "inventory.json"))
        pyinfra_inventory(lab, os.path.join(work, "inventory.py"))
        ansible_env = {"ANSIBLE_PIPELINING": "1", "ANSIBLE_FORKS": "10", "ANSIBLE_HOST_KEY_CHECKING": "1",
                       "ANSIBLE_LOCAL_TEMP": os.path.join(work, "ansible-tmp"),
                       "ANSIBLE_CONTROL_PATH_DIR": os.path.join(work, "cp")}
        run = {
            # Ten hosts at once for every tool (Ansible's forks, pyinfra's --parallel).
            "steward": lambda first: timed([BIN, "apply", "--yes", "--no-progress", "--stats", "--orgs-at-once", "10"], pool),
            "compared": lambda first: timed([os.path.abspath(args.compare or BIN), "apply", "--yes", "--no-progress",
                                              "--stats", *(["--orgs-at-once", "10"] if not args.compare_old else [])],
                                             compared_pool),
            "ansible": lambda first: timed([f"{bin_dir}/ansible-playbook", "-i", os.path.join(work, "inventory.json"),
                                             *(["-e", "update_lists=true"] if first and args.bare else []),
                                             os.path.join(COMPARE, "playbook.yml")], COMPARE, env=ansible_env),
            "pyinfra": lambda first: timed([f"{bin_dir}/pyinfra", "-y", "--parallel", "10",
                                             *(["--data", "update_lists=true"] if first and args.bare else []),
                                             os.path.join(work, "inventory.py"), os.path.join(COMPARE, "deploy.py")], COMPARE),
        }
        results = {}
        for tool in tools:
            took, out = run[tool](True)
            extra = ""
            if tool in ("steward", "compared"):
                m = re.search(r"SSH: .*", out.stderr)
                extra = f"; {m.group(0) if m else ''}"
                # With STEWARD_LOG=steward=debug, each round trip's time, for a profile.
                if os.environ.get("STEWARD_BENCH_LOG"):
                    open(os.environ["STEWARD_BENCH_LOG"], "w").write(out.stderr)
            print(f"{tool:8} first apply: {took:7.2f} s{extra}", flush=True)
            results[tool] = []
        # Converged: every tool's run should change nothing now. Alternate tools so
        # machine noise falls on all of them alike.
        for _ in range(args.runs):
            for tool in tools:
                took, out = run[tool](False)
                results[tool].append(took)
                if tool in ("steward", "compared") and "Plan: 0 to add, 0 to change, 0 to remove." not in out.stdout:
                    sys.exit(f"steward's second run was not a no-change run:\n{out.stdout}")
                if tool == "ansible" and not re.search(r"changed=0 ", out.stdout):
                    sys.exit(f"ansible's second run changed something:\n{out.stdout[-3000:]}")
        if "steward" in tools:
            took, out = timed([BIN, "plan", "--detailed-exitcode", "--stats"], pool)
            m = re.search(r"SSH: .*", out.stderr)
            print(f"steward no-change plan: {took:.3f} s; {m.group(0) if m else ''}")
        base = min(results["steward"]) if "steward" in results else None
        for tool in tools:
            xs = sorted(results[tool])
            ratio = f" ({xs[0] / base:5.1f}x Steward)" if base and tool != "steward" else ""
            print(f"{tool:8} no-change run: min {xs[0]:7.3f} s, median {xs[len(xs) // 2]:7.3f} s over {len(xs)} runs{ratio}")
    finally:
        if args.keep:
            print(f"test hosts left up in {lab.d}; take them down with: {LAB} down {lab.d}")
        else:
            subprocess.run([LAB, "down", lab.d])
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
