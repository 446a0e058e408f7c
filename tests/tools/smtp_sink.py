"""A real SMTP server for the tests (aiosmtpd): accepts mail on 127.0.0.1 and stores
each message as JSON ({mail_from, rcpt_tos, auth_user, data}) in a folder.

Usage: smtp_sink.py MAIL_DIR READY_FILE [USER PASSWORD [CERT KEY]]
With USER and PASSWORD it requires AUTH LOGIN/PLAIN with them. With CERT and KEY (PEM)
it also requires STARTTLS before AUTH and MAIL; without, it takes AUTH over plain text
(the tests talk to loopback only). Writes the port to READY_FILE once listening.
"""

import json
import logging
import pathlib
import signal
import ssl
import warnings
import socket
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out = pathlib.Path(sys.argv[1])
ready = pathlib.Path(sys.argv[2])
creds = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None
tls_files = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else None
out.mkdir(parents=True, exist_ok=True)
count = 0
lock = threading.Lock()


class Store:
    async def handle_DATA(self, server, session, envelope):
        global count
        with lock:
            count += 1
            n = count
        user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": user,
            "tls": getattr(session, "ssl", None) is not None,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        tmp = out / f".{n:03d}.json"
        tmp.write_text(json.dumps(record))
        tmp.rename(out / f"{n:03d}.json")
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and creds is not None
        and (auth_data.login.decode(), auth_data.password.decode()) == creds
    )
    # handled=False: aiosmtpd then answers the failure (535) itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Expected(logging.Filter):
    """Drops what the tests cause on purpose, so the test log shows only real trouble:
    a client refusing the test CA (the STARTTLS test), AUTH without TLS (loopback), and
    aiosmtpd's notice about an attribute it sets itself."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ == "TLSSetupException":
            return False
        message = record.getMessage()
        return not (
            "auth_require_tls == False" in message or "login_data is deprecated" in message
        )


logging.getLogger("mail.log").addFilter(Expected())
kwargs = {}
# Loopback only, so AUTH without TLS is what the test wants.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
if creds:
    kwargs = dict(authenticator=authenticate, auth_required=True, auth_require_tls=False)
if tls_files:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
# aiosmtpd checks its own socket by connecting to the configured port, so it needs a
# real one: take a free port from the kernel, then listen on it.
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
controller = Controller(Store(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
ready.write_text(str(port))
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
controller.stop()
