"""A stand-in for ``copa_runtime.serve`` used to test the ``copa up`` supervisor on its own.

Same command line (``python -m fake_copa_serve <service> --host H --port P``), answers
``/readyz``, ``/livez`` and ``/docs`` with 200, shows the environment ``copa up`` gave it at
``/env``, and exits with code 3 on ``/die`` so a test can watch a service crash. It proves
the supervisor's part (ports, environment, readiness, crash reports, shutdown) without
depending on the five real services being finished.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

PASSED_ENV = (
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "SMTP_URL",
    "COPA_ENV",
    "COPA_JWT_SECRET",
    "COPA_SERVICE",
)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/readyz", "/livez", "/docs"):
            self._send(200, b"ok")
        elif self.path == "/env":
            self._send(
                200, json.dumps({name: os.environ.get(name) for name in PASSED_ENV}).encode()
            )
        elif self.path == "/die":
            self._send(200, b"dying")
            os._exit(3)
        else:
            self._send(404, b"not found")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)

    def on_term(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_term)
    print(f"fake {args.service} serving on {args.host}:{args.port}", flush=True)
    server.serve_forever()
    print(f"fake {args.service} stopped", flush=True)


if __name__ == "__main__":
    main()
