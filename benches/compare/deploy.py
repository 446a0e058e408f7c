"""The benchmark's tasks in pyinfra: what Steward's base, printers, backups and wifi
modules do for one host. Host data comes from the inventory the bench writes."""
import os
from io import StringIO

from pyinfra import host
from pyinfra.operations import apt, files, server, systemd

JOB = "shared-drive"
HERE = os.path.dirname(os.path.abspath(__file__))
d = host.data

# A bare host has no package lists yet: the first apply reads them (Steward reads them
# when a package has none).
apt.packages(name="packages", packages=["cups", "cups-client", "cups-ipp-utils", "restic", "hostapd"],
             update=str(d.get("update_lists", "")).lower() == "true")
files.put(name="managed-by note", src=StringIO(f"# This host is managed by pyinfra.\nhost: {host.name}\n"),
          dest="/etc/steward/managed-by", mode="644")

for q in d.queues:
    # Idempotent like the Ansible task: lpadmin only when URI or location differ.
    server.shell(name=f"queue {q['name']}", commands=[
        f"cur_uri=$(lpstat -v {q['name']} 2>/dev/null | sed 's/^device for [^:]*: //'); "
        f"if [ \"$cur_uri\" = \"{q['uri']}\" ] && lpstat -l -p {q['name']} 2>/dev/null | grep -qx \"\tLocation: {q['location']}\"; "
        f"then echo unchanged; else lpadmin -p {q['name']} -E -v {q['uri']} -m everywhere -L \"{q['location']}\" "
        f"-D {q['name']} -o printer-is-shared=false; fi"])

files.directory(name="restic folder", path="/etc/steward/restic")
files.put(name="restic password file", src=StringIO(d.restic_password + "\n"),
          dest=f"/etc/steward/restic/{JOB}.password", mode="600")
service = files.template(name="backup service", src=f"{HERE}/backup.service.j2",
                         dest=f"/etc/systemd/system/steward-backup-{JOB}.service",
                         job=JOB, repository=d.repository)
timer = files.template(name="backup timer", src=f"{HERE}/backup.timer.j2",
                       dest=f"/etc/systemd/system/steward-backup-{JOB}.timer", job=JOB)
server.shell(name="restic repository", commands=[
    f"export RESTIC_REPOSITORY={d.repository} RESTIC_PASSWORD_FILE=/etc/steward/restic/{JOB}.password; "
    "restic --no-lock cat config >/dev/null 2>&1 || restic init >/dev/null"])
systemd.service(name="backup timer enabled and running", service=f"steward-backup-{JOB}.timer",
                running=True, enabled=True, daemon_reload=True,
                _if=[service.did_change, timer.did_change])
systemd.service(name="backup timer running", service=f"steward-backup-{JOB}.timer", running=True, enabled=True)

files.put(name="hostapd check script", src=f"{HERE}/hostapd-check.sh", dest="/usr/local/sbin/hostapd-check", mode="755")
new = files.template(name="hostapd configuration (candidate)", src=f"{HERE}/hostapd.conf.j2",
                     dest="/etc/hostapd/hostapd.conf.new", mode="600",
                     ssid=d.ssid, wifi_passphrase=d.wifi_passphrase)
server.shell(name="check and install hostapd.conf", _if=new.did_change, commands=[
    "/usr/local/sbin/hostapd-check /etc/hostapd/hostapd.conf.new && "
    "install -m 600 /etc/hostapd/hostapd.conf.new /etc/hostapd/hostapd.conf && systemctl unmask hostapd"])
systemd.service(name="hostapd restarted", service="hostapd", restarted=True, _if=new.did_change)
systemd.service(name="hostapd enabled and running", service="hostapd", running=True, enabled=True)
