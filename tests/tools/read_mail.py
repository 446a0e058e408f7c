"""Parses the messages smtp_sink.py stored (or .eml files) with Python's email package
and prints them as JSON: envelope, headers, and each MIME part decoded.

Usage: read_mail.py DIR
"""

import email
import email.policy
import json
import pathlib
import sys

out = []
for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    if path.suffix == ".json":
        record = json.loads(path.read_text())
    elif path.suffix == ".eml":
        record = {"mail_from": None, "rcpt_tos": None, "auth_user": None, "data": path.read_text()}
    else:
        continue
    msg = email.message_from_string(record["data"], policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({"type": part.get_content_type(), "charset": part.get_content_charset(), "body": part.get_content()})
    out.append({
        "file": path.name,
        "mail_from": record["mail_from"],
        "rcpt_tos": record["rcpt_tos"],
        "auth_user": record["auth_user"],
        "tls": record.get("tls"),
        "from": str(msg["From"]),
        "to": [str(a) for a in msg["To"].addresses] if msg["To"] else [],
        "subject": str(msg["Subject"]),
        "content_type": msg.get_content_type(),
        "parts": parts,
        "raw": record["data"],
    })
print(json.dumps(out))
