"""Opens one YAML file in a real YAML language server (Red Hat's yaml-language-server,
what VS Code, Neovim and Helix use) over LSP, and prints the diagnostics it publishes
for the file as JSON. The server finds the file's schema from its
`# yaml-language-server: $schema=...` line, as an editor's would.

Installs the server from the npm registry into target/tools/ on first use.

    python3 yaml_ls_check.py FILE
"""

import json
import os
import pathlib
import queue
import subprocess
import sys
import threading
import time

VERSION = "1.15.0"
ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
if not TARGET.is_absolute():
    TARGET = ROOT / TARGET
PREFIX = TARGET / "tools" / f"yaml-language-server-{VERSION}"
SERVER = PREFIX / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
SETTINGS = {"yaml": {"validate": True, "schemaStore": {"enable": False}, "schemas": {}}}


def install():
    if SERVER.is_file():
        return
    PREFIX.mkdir(parents=True, exist_ok=True)
    # npm checks every package against the registry's published integrity.
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(PREFIX),
         f"yaml-language-server@{VERSION}"],
        check=True,
    )


def send(proc, message):
    body = json.dumps(message).encode()
    proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    proc.stdin.flush()


def reader(proc, out):
    while True:
        length = None
        while True:
            line = proc.stdout.readline()
            if not line:
                return
            line = line.strip()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length is None:
            return
        out.put(json.loads(proc.stdout.read(length)))


def main():
    path = pathlib.Path(sys.argv[1]).resolve()
    install()
    proc = subprocess.Popen(["node", str(SERVER), "--stdio"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    messages = queue.Queue()
    threading.Thread(target=reader, args=(proc, messages), daemon=True).start()
    uri = path.as_uri()
    send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": os.getpid(), "rootUri": path.parent.as_uri(), "capabilities": {
            "workspace": {"configuration": True},
            "textDocument": {"publishDiagnostics": {}}}}})
    diagnostics = None
    deadline = time.time() + 60
    opened = False
    while time.time() < deadline:
        try:
            msg = messages.get(timeout=1)
        except queue.Empty:
            if diagnostics:
                break
            continue
        if msg.get("id") == 1 and "result" in msg and not opened:
            send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
            send(proc, {"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration",
                        "params": {"settings": SETTINGS}})
            send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                "textDocument": {"uri": uri, "languageId": "yaml", "version": 1,
                                 "text": path.read_text()}}})
            opened = True
        elif "method" in msg and "id" in msg:
            # A request from the server: answer what it asks, nothing more.
            if msg["method"] == "workspace/configuration":
                result = [SETTINGS.get(item.get("section", ""), SETTINGS["yaml"])
                          for item in msg["params"]["items"]]
            else:
                result = None
            send(proc, {"jsonrpc": "2.0", "id": msg["id"], "result": result})
        elif msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
            diagnostics = msg["params"]["diagnostics"]
            # The schema is fetched after the first (syntax-only) pass: wait a moment
            # for a second publication before taking this one as the answer.
            deadline = min(deadline, time.time() + 5)
    proc.kill()
    if diagnostics is None:
        sys.exit("the language server published no diagnostics for the file")
    print(json.dumps([{"line": d["range"]["start"]["line"] + 1, "message": d["message"]}
                      for d in diagnostics]))


if __name__ == "__main__":
    main()
