"""Validates JSON documents (one per argument, `SCHEMA_NAME=FILE`) against a schema of an
OpenAPI description's components, with its references resolved, using the `jsonschema`
library (an implementation independent of Steward). Exits non-zero, saying why, on the
first document that does not match.

    python3 openapi_check.py OPENAPI.json "Site overview page=sites.json" ...
"""
import json
import sys

import jsonschema

spec = json.load(open(sys.argv[1]))
for arg in sys.argv[2:]:
    name, path = arg.rsplit("=", 1)
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    try:
        jsonschema.validate(json.load(open(path)), schema)
    except jsonschema.ValidationError as e:
        sys.exit(f"{path} does not match {name!r}: {e.message} at {list(e.absolute_path)}")
print("ok")
