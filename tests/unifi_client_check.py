"""pyunifi, an open-source UniFi client, against the controller lab, unchanged: it logs
in (classic or UniFi OS), lists sites, access points, Wi-Fi broadcasts, clients, user
groups, the site's health and the controller's version, makes a site, and trusts the
lab's certificate only through the file given. Prints what it read as JSON.

    python3 unifi_client_check.py HOST:PORT CERT_FILE v5|UDMP-unifiOS SITE
"""
import json
import sys

from pyunifi.controller import Controller

host_port, cert, flavour, site = sys.argv[1:5]
host, port = host_port.rsplit(":", 1)
if flavour == "v5":
    c = Controller(host, "steward", "lab-password-7", port=int(port), version="v5",
                   site_id=site, ssl_verify=cert)
else:
    # pyunifi builds UniFi OS URLs without a port: it goes with the host.
    c = Controller(host_port, "steward", "lab-password-7", version=flavour,
                   site_id=site, ssl_verify=cert)
read = {
    "aps": [(a["name"], a["state"]) for a in c.get_aps()],
    "wlans": [w["name"] for w in c.get_wlan_conf()],
    "clients": c.get_clients(),
    "users": c.get_users(),
    "user_groups": [g["name"] for g in c.get_user_groups()],
    "health": [(h["subsystem"], h["num_ap"], h["num_disconnected"]) for h in c.get_healthinfo()],
    "version": c.get_sysinfo()[0]["version"],
}
if flavour == "v5":
    # pyunifi makes sites only on a classic controller.
    c.create_site("Hillside Youth Club")
read["sites"] = [s["desc"] for s in c.get_sites()]
print(json.dumps(read))
