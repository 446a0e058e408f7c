"""Google's own Python client library against the Steward lab.

Usage: google_client_check.py LAB_URL SERVICE_ACCOUNT_KEY DISCOVERY_JSON

Builds the Directory API client from the published discovery document, authenticates
with the service-account key (JWT bearer grant, domain-wide delegation), and lists,
inserts and pages through objects. Fails loudly on any mismatch.
"""
import json
import sys

from google.oauth2 import service_account
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

lab, key_path, doc_path = sys.argv[1:4]
info = json.load(open(key_path))
info["token_uri"] = lab + "/token"
scopes = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group",
    "https://www.googleapis.com/auth/admin.directory.orgunit",
]
creds = service_account.Credentials.from_service_account_info(
    info, scopes=scopes, subject="steward-admin@riversidefood.org"
)
svc = build_from_document(
    open(doc_path).read(), credentials=creds, client_options={"api_endpoint": lab + "/"}
)
cid = "C03az79cb"

svc.orgunits().insert(customerId=cid, body={"name": "Py", "parentOrgUnitPath": "/"}).execute()
ous = svc.orgunits().list(customerId=cid, type="all").execute()
assert [o["orgUnitPath"] for o in ous["organizationUnits"]] == ["/Py"], ous

for i in range(5):
    svc.users().insert(body={
        "primaryEmail": f"py{i}@riversidefood.org",
        "name": {"givenName": "Py", "familyName": str(i)},
        "password": "a-long-initial-password",
        "orgUnitPath": "/Py",
    }).execute()

seen = []
req = svc.users().list(customer=cid, maxResults=2, fields="nextPageToken,users(primaryEmail)")
while req is not None:
    page = req.execute()
    seen += [u["primaryEmail"] for u in page.get("users", [])]
    req = svc.users().list_next(req, page)
assert len(seen) == 6, seen  # 5 new users and the admin

g = svc.groups().insert(body={"email": "py@riversidefood.org", "name": "Py"}).execute()
svc.members().insert(groupKey=g["email"], body={"email": "py0@riversidefood.org", "role": "MEMBER"}).execute()
members = svc.members().list(groupKey=g["email"]).execute()
assert [m["email"] for m in members["members"]] == ["py0@riversidefood.org"], members

try:
    svc.users().get(userKey="nobody@riversidefood.org").execute()
    raise SystemExit("expected 404")
except HttpError as e:
    assert e.resp.status == 404, e

svc.users().patch(userKey="py1@riversidefood.org", body={"suspended": True}).execute()
assert svc.users().get(userKey="py1@riversidefood.org").execute()["suspended"] is True
assert svc.users().get(userKey="py1@riversidefood.org").execute()["suspensionReason"] == "ADMIN"
py2 = svc.users().get(userKey="py2@riversidefood.org").execute()
svc.users().delete(userKey="py2@riversidefood.org").execute()
deleted = svc.users().list(customer=cid, showDeleted="true").execute()
assert [u["primaryEmail"] for u in deleted["users"]] == ["py2@riversidefood.org"], deleted
svc.users().undelete(userKey=py2["id"], body={"orgUnitPath": "/Py"}).execute()
assert svc.users().get(userKey=py2["id"]).execute()["primaryEmail"] == "py2@riversidefood.org"

# Aliases: an address of one user, resolved to its owner, taken for everyone else.
svc.users().aliases().insert(userKey="py3@riversidefood.org", body={"alias": "info@riversidefood.org"}).execute()
aliases = svc.users().aliases().list(userKey="py3@riversidefood.org").execute()
assert [a["alias"] for a in aliases["aliases"]] == ["info@riversidefood.org"], aliases
assert svc.users().get(userKey="info@riversidefood.org").execute()["primaryEmail"] == "py3@riversidefood.org"
for make in (
    lambda: svc.users().insert(body={"primaryEmail": "info@riversidefood.org", "name": {"givenName": "I", "familyName": "D"}, "password": "a-long-initial-password"}).execute(),
    lambda: svc.groups().insert(body={"email": "info@riversidefood.org", "name": "Info"}).execute(),
):
    try:
        make()
        raise SystemExit("expected 409 for an alias")
    except HttpError as e:
        assert e.resp.status == 409, e
svc.groups().aliases().insert(groupKey=g["email"], body={"alias": "python@riversidefood.org"}).execute()
assert svc.groups().get(groupKey="python@riversidefood.org").execute()["email"] == g["email"]
svc.users().aliases().delete(userKey="py3@riversidefood.org", alias="info@riversidefood.org").execute()
assert svc.users().aliases().list(userKey="py3@riversidefood.org").execute().get("aliases", []) == []

# A user's groups, and members by role.
svc.members().insert(groupKey=g["email"], body={"email": "py3@riversidefood.org", "role": "OWNER"}).execute()
mine = svc.groups().list(userKey="py3@riversidefood.org").execute()
assert [x["email"] for x in mine["groups"]] == [g["email"]], mine
owners = svc.members().list(groupKey=g["email"], roles="OWNER").execute()
assert [m["email"] for m in owners["members"]] == ["py3@riversidefood.org"], owners

# Google's limits.
for body in (
    {"primaryEmail": "long@riversidefood.org", "name": {"givenName": "x" * 61, "familyName": "y"}, "password": "a-long-initial-password"},
    {"primaryEmail": "pw@riversidefood.org", "name": {"givenName": "P", "familyName": "W"}, "password": "p" * 101},
):
    try:
        svc.users().insert(body=body).execute()
        raise SystemExit("expected 400")
    except HttpError as e:
        assert e.resp.status == 400, e
print("google client OK")
