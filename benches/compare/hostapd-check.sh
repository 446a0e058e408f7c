#!/bin/sh
# Checks a hostapd configuration the way Steward does (a throw-away hostapd with the
# none driver); installed on the hosts by the Ansible and pyinfra runs so all three
# tools validate before replacing.
c=$(mktemp -d) || exit 1
sed -e 's/^driver=.*/driver=none/' -e 's/^ctrl_interface=.*/#/' "$1" > "$c/check.conf"
grep -q '^driver=' "$c/check.conf" || echo 'driver=none' >> "$c/check.conf"
out=$(hostapd -B -P "$c/pid" "$c/check.conf" 2>&1)
[ -s "$c/pid" ] && kill "$(cat "$c/pid")" 2>/dev/null
rm -rf "$c"
if printf '%s\n' "$out" | grep -q 'errors found in configuration file'; then
  printf '%s\n' "$out"; exit 1
fi
