"""Test fixtures: a private AIRFLOW_HOME, and a fake yarngate gateway (a real HTTP server on loopback)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Before Airflow is imported: its configuration and database live in a temporary directory.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="yarngate-airflow-unit-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import pytest  # noqa: E402


class FakeGateway:
    """A gateway that answers from handlers the test registers: handler(request) -> (status, body, headers).
    Every request is recorded (method, path, query, headers, body)."""

    def __init__(self):
        self.routes: dict[tuple[str, str], object] = {}
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = {"method": self.command, "path": path, "query": query, "headers": dict(self.headers), "body": body}
                fake.requests.append(req)
                handler = fake.routes.get((self.command, path))
                if handler is None:
                    status, payload, headers = 404, {"error": {"code": "not_found", "message": "no route", "requestId": "r1"}}, {}
                else:
                    status, payload, headers = handler(req)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def route(self, method: str, path: str, handler):
        self.routes[(method, path)] = handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(monkeypatch):
    """A fake gateway, and the connection yarngate_default pointing at it with the token "s3cret"."""
    gw = FakeGateway()
    monkeypatch.setenv("AIRFLOW_CONN_YARNGATE_DEFAULT",
                       json.dumps({"conn_type": "yarngate", "host": gw.url, "password": "s3cret"}))
    yield gw
    gw.close()


def job(job_id="application_1_0001", state="RUNNING", terminal=False, failure=None, links=None):
    """A job object as the gateway renders it."""
    return {
        "id": job_id, "name": "t", "target": "application", "state": state, "terminal": terminal,
        "yarn": {"applicationId": job_id, "state": "RUNNING", "finalStatus": "UNDEFINED", "diagnostics": ""},
        "flink": {"jobId": "00", "state": None, "failure": failure, "jobs": []},
        "links": links if links is not None else {"yarn": f"http://rm/cluster/app/{job_id}",
                                                   "flinkUi": f"http://rm/proxy/{job_id}/", "jobManager": None},
    }
