"""The yarngate hook: the gateway's HTTP API (jars, jobs, sessions) for Airflow, sync and async (httpx)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from urllib.parse import quote

import httpx
from airflow.sdk import BaseHook

#: Job states that never change once reached (docs/API.md, "Job states").
TERMINAL_JOB_STATES = frozenset({"FINISHED", "FAILED", "CANCELED", "KILLED", "LOST"})
#: Session states that never change once reached.
TERMINAL_SESSION_STATES = frozenset({"STOPPED", "FAILED"})
#: The order of the transient job states, for "has the job reached RUNNING".
JOB_STATE_ORDER = ("SUBMITTED", "ACCEPTED", "STARTING", "RUNNING", "FINISHED")

# Statuses worth retrying: the gateway (or a proxy before it) is restarting, overloaded or rate limiting.
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


class YarnGateError(Exception):
    """An error answer of the gateway: the HTTP status and the machine-readable error body."""

    def __init__(self, status: int, code: str, message: str, request_id: str = "", details: list | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details or []
        text = f"yarngate answered {status} {code}: {message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)

    @classmethod
    def from_response(cls, resp: httpx.Response) -> YarnGateError:
        """Builds the error from an answer, whatever its body (a proxy may answer with HTML)."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            err = {}
        return cls(
            resp.status_code,
            err.get("code") or "http_error",
            err.get("message") or resp.text[:500],
            err.get("requestId") or resp.headers.get("X-Request-Id", ""),
            err.get("details"),
        )


def reached(state: str, target: str) -> bool:
    """Whether a job in `state` has reached `target` in the gateway's sense: the state itself or a later one of
    the way to FINISHED (a failure ends the way without reaching FINISHED)."""
    if state == target:
        return True
    if target in TERMINAL_JOB_STATES or state not in JOB_STATE_ORDER or target not in JOB_STATE_ORDER:
        return False
    return JOB_STATE_ORDER.index(state) >= JOB_STATE_ORDER.index(target)


class YarnGateHook(BaseHook):
    """
    Talks to a yarngate gateway.

    The connection (type ``yarngate``) holds the gateway's address in Host (``https://gateway.example.com:8443``,
    or a host name with Port, and the extra ``protocol``), the bearer token in Password, and in Extra optionally
    ``verify`` (false, or a CA bundle's path) and ``timeout`` (seconds for a plain request).

    Every call is retried on connection errors and 429/502/503/504 answers, ``retries`` times with exponential
    backoff (honouring ``Retry-After``): submissions carry an Idempotency-Key, jar uploads are content-addressed,
    and cancel and stop are idempotent, so a retry never launches twice.

    :param yarngate_conn_id: the connection's id.
    :param retries: how often to retry a call that failed for a transient reason.
    :param backoff: the first retry's delay in seconds; each retry doubles it, up to 30 s.
    """

    conn_name_attr = "yarngate_conn_id"
    default_conn_name = "yarngate_default"
    conn_type = "yarngate"
    hook_name = "yarngate"

    def __init__(self, yarngate_conn_id: str = default_conn_name, retries: int = 5, backoff: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.yarngate_conn_id = yarngate_conn_id
        self.retries = retries
        self.backoff = backoff
        self._settings: dict[str, Any] | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """What the connection form shows."""
        return {
            "hidden_fields": ["schema", "login"],
            "relabeling": {"host": "Gateway URL", "password": "Bearer token"},
            "placeholders": {
                "host": "https://gateway.example.com:8443",
                "password": "a static token or an OIDC JWT",
                "extra": '{"verify": true, "timeout": 60}',
            },
        }

    # Connection -----------------------------------------------------------------------------------------------

    def _conn_settings(self, conn) -> dict[str, Any]:
        extra = conn.extra_dejson or {}
        host = (conn.host or "").strip()
        if not host:
            raise ValueError(f"connection {self.yarngate_conn_id}: no gateway address in Host")
        if "://" in host:
            base = host.rstrip("/")
        else:
            base = f"{extra.get('protocol', 'http')}://{host}"
        if conn.port and base.count(":") < 2:
            base = f"{base}:{conn.port}"
        headers = {"Accept": "application/json", "User-Agent": "yarngate-airflow-provider"}
        if conn.password:
            headers["Authorization"] = f"Bearer {conn.password}"
        verify = extra.get("verify", True)
        if isinstance(verify, str) and verify.lower() in ("false", "true"):
            verify = verify.lower() == "true"
        return {"base": base, "headers": headers, "verify": verify, "timeout": float(extra.get("timeout", 60))}

    def settings(self) -> dict[str, Any]:
        """The gateway's base URL, headers (with the token), TLS verification and timeout, from the connection."""
        if self._settings is None:
            self._settings = self._conn_settings(self.get_connection(self.yarngate_conn_id))
        return self._settings

    async def asettings(self) -> dict[str, Any]:
        """settings() for async code (triggers)."""
        if self._settings is None:
            self._settings = self._conn_settings(await self.aget_connection(self.yarngate_conn_id))
        return self._settings

    def get_conn(self) -> httpx.Client:
        """A new httpx client for the gateway (close it after use)."""
        s = self.settings()
        return httpx.Client(base_url=s["base"], headers=s["headers"], verify=s["verify"], timeout=s["timeout"])

    def base_url(self) -> str:
        """The gateway's base URL."""
        return self.settings()["base"]

    # Requests -------------------------------------------------------------------------------------------------

    def _delay(self, attempt: int, resp: httpx.Response | None) -> float:
        if resp is not None and resp.headers.get("Retry-After", "").isdigit():
            return min(float(resp.headers["Retry-After"]), 60.0)
        return min(self.backoff * (2**attempt), 30.0)

    def request(self, method: str, path: str, *, timeout: float | None = None, **kwargs) -> httpx.Response:
        """Sends one request, retrying transient failures; returns a 2xx answer or raises YarnGateError (or the
        last connection error)."""
        attempt = 0
        while True:
            resp = None
            try:
                # A client per call: on_kill may cancel from a signal handler while a long poll reads.
                with self.get_conn() as client:
                    resp = client.request(method, path, timeout=timeout or self.settings()["timeout"], **kwargs)
                if resp.is_success:
                    return resp
                if resp.status_code not in _RETRY_STATUSES or attempt >= self.retries:
                    raise YarnGateError.from_response(resp)
            except httpx.TransportError as e:
                if attempt >= self.retries:
                    raise
                self.log.warning("yarngate %s %s: %s; retrying", method, path, e)
            delay = self._delay(attempt, resp)
            if resp is not None:
                self.log.warning("yarngate %s %s answered %s; retrying in %.0fs", method, path, resp.status_code, delay)
            time.sleep(delay)
            attempt += 1

    async def arequest(self, method: str, path: str, *, timeout: float | None = None, **kwargs) -> httpx.Response:
        """request() for async code."""
        s = await self.asettings()
        attempt = 0
        while True:
            resp = None
            try:
                async with httpx.AsyncClient(base_url=s["base"], headers=s["headers"], verify=s["verify"]) as client:
                    resp = await client.request(method, path, timeout=timeout or s["timeout"], **kwargs)
                if resp.is_success:
                    return resp
                if resp.status_code not in _RETRY_STATUSES or attempt >= self.retries:
                    raise YarnGateError.from_response(resp)
            except httpx.TransportError as e:
                if attempt >= self.retries:
                    raise
                self.log.warning("yarngate %s %s: %s; retrying", method, path, e)
            await asyncio.sleep(self._delay(attempt, resp))
            attempt += 1

    # Jars -----------------------------------------------------------------------------------------------------

    def upload_jar(self, path: str, name: str | None = None) -> dict[str, Any]:
        """Uploads a local jar (streamed); the same content uploaded again is the same jar (its SHA-256)."""
        name = name or os.path.basename(path)

        def body():
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    yield chunk

        size = os.path.getsize(path)
        resp = self.request(
            "POST",
            "/v1/jars",
            params={"name": name},
            content=body(),
            headers={"Content-Type": "application/java-archive", "Content-Length": str(size)},
            timeout=max(300.0, size / (1 << 20)),
        )
        return resp.json()

    # Jobs -----------------------------------------------------------------------------------------------------

    def submit_job(self, spec: dict[str, Any], idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
        """Submits a job; returns the job and whether this call launched it (202) rather than finding the launch
        of an earlier request with the same Idempotency-Key (200)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        # The launch may take a while (the gateway answers once YARN accepted the application).
        resp = self.request("POST", "/v1/jobs", json=spec, headers=headers, timeout=660.0)
        return resp.json(), resp.status_code == 202

    def get_job(self, job_id: str, wait: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """The job now, or, with wait, once it reached that state (or a later or terminal one) or timeout
        seconds passed."""
        params = {"wait": wait, "timeout": f"{int(timeout)}s"} if wait else None
        resp = self.request("GET", f"/v1/jobs/{quote(job_id)}", params=params, timeout=timeout + 30)
        if wait and resp.headers.get("X-Long-Poll") == "skipped":
            # The gateway's long-poll cap: it answered at once; wait a little before asking again.
            time.sleep(min(timeout, 5.0))
        return resp.json()

    async def aget_job(self, job_id: str, wait: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """get_job() for async code (the trigger's long poll)."""
        params = {"wait": wait, "timeout": f"{int(timeout)}s"} if wait else None
        resp = await self.arequest("GET", f"/v1/jobs/{quote(job_id)}", params=params, timeout=timeout + 30)
        if wait and resp.headers.get("X-Long-Poll") == "skipped":
            await asyncio.sleep(min(timeout, 5.0))
        return resp.json()

    def wait_for_job(self, job_id: str, target: str = "FINISHED", poll_timeout: float = 60.0, deadline: float | None = None,
                     on_update=None) -> dict[str, Any]:
        """Long-polls until the job reached target or is terminal (or time.monotonic() passed deadline: then
        TimeoutError); on_update(job) sees every answer."""
        while True:
            job = self.get_job(job_id, wait=target, timeout=poll_timeout)
            if on_update:
                on_update(job)
            if reached(job["state"], target) or job.get("terminal"):
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"yarngate job {job_id} is {job['state']}, not {target}, at the deadline")

    def cancel_job(self, job_id: str, kill: bool = False) -> dict[str, Any]:
        """Cancels the job through Flink (kill: kills the YARN application)."""
        body = {"kill": True} if kill else None
        return self.request("POST", f"/v1/jobs/{quote(job_id)}/cancel", json=body).json()

    # Sessions -------------------------------------------------------------------------------------------------

    def create_session(self, spec: dict[str, Any], idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
        """Starts a Flink session cluster; returns the session and whether this call launched it."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        resp = self.request("POST", "/v1/sessions", json=spec, headers=headers, timeout=660.0)
        return resp.json(), resp.status_code == 202

    def get_session(self, session_id: str, wait: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """The session now, or with wait once it reached that state (or ended) or timeout seconds passed."""
        params = {"wait": wait, "timeout": f"{int(timeout)}s"} if wait else None
        return self.request("GET", f"/v1/sessions/{quote(session_id)}", params=params, timeout=timeout + 30).json()

    def stop_session(self, session_id: str) -> dict[str, Any]:
        """Stops the session (its jobs are cancelled)."""
        return self.request("DELETE", f"/v1/sessions/{quote(session_id)}").json()

    def test_connection(self) -> tuple[bool, str]:
        """For the connection form's Test button: an authenticated read."""
        try:
            self.request("GET", "/v1/cluster")
        except Exception as e:
            return False, str(e)
        return True, "the gateway answered"
