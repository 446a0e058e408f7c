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
svc.users().delete(userKey="py2@riversidefood.org").execute()
print("google client OK")
