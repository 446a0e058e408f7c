"""Runs a command with one of its output streams on a pseudo-terminal, the other on a
pipe, as a person's shell does for `steward plan > plan.txt` (stdout a file, stderr the
terminal) or `steward plan 2> log` (the reverse). Prints a JSON object with what each
stream received.

    python3 on_a_terminal.py stdout|stderr COMMAND [ARGS...]
"""
import json
import os
import pty
import subprocess
import sys
import threading


def main():
    which, cmd = sys.argv[1], sys.argv[2:]
    master, slave = pty.openpty()
    on_tty = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: the command ended
                return
            if not chunk:
                return
            on_tty.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    streams[which] = slave
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, **streams)
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    piped = p.stderr if which == "stdout" else p.stdout
    print(json.dumps({
        "code": p.returncode,
        "terminal": on_tty.decode("utf-8", "replace"),
        "pipe": piped.decode("utf-8", "replace"),
    }))


if __name__ == "__main__":
    main()
