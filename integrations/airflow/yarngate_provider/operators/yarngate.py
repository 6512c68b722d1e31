"""Operators that submit yarngate jobs and create and stop sessions."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from typing import Any

from airflow.configuration import conf
from airflow.exceptions import AirflowException
from airflow.sdk import BaseOperator

from yarngate_provider.hooks.yarngate import TERMINAL_SESSION_STATES, YarnGateHook
from yarngate_provider.links.yarngate import LINKS_XCOM_KEY, YarnGateFlinkUILink, YarnGateYarnLink
from yarngate_provider.triggers.yarngate import YarnGateJobTrigger


def idempotency_key(context, prefix: str = "airflow") -> str:
    """The Idempotency-Key of a task instance: the same for every try of it (dag_id, run_id, task_id, map_index),
    so that a retry finds the job the first try launched instead of launching a second one. At most 255
    printable ASCII characters (the gateway's rule); a longer or non-ASCII one is replaced by its SHA-256."""
    ti = context["ti"]
    key = f"{prefix}:{ti.dag_id}:{ti.run_id}:{ti.task_id}:{ti.map_index}"
    if len(key) > 255 or not all(33 <= ord(c) < 127 for c in key):
        key = f"{prefix}:sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def merge_links(old: dict | None, new: dict | None) -> dict:
    """The links to keep: the newest non-null ones (the gateway drops the Flink UI's once the job ended)."""
    merged = dict(old or {})
    merged.update({k: v for k, v in (new or {}).items() if v})
    return merged


def job_failure(job: dict[str, Any]) -> str:
    """What went wrong with an ended job, for the task log and the task's exception."""
    parts = [f"yarngate job {job.get('id')} ended {job.get('state')}"]
    flink = job.get("flink") or {}
    if flink.get("failure"):
        parts.append(f"Flink failure: {flink['failure']}")
    diag = (job.get("yarn") or {}).get("diagnostics")
    if diag:
        parts.append(f"YARN diagnostics: {diag}")
    return "; ".join(parts)


class YarnGateSubmitJobOperator(BaseOperator):
    """
    Submits a Flink job to yarngate and (by default) waits for it to end; succeeds only when the job ended
    FINISHED (YARN's final status SUCCEEDED), fails otherwise with the Flink failure in the log.

    The request carries an Idempotency-Key made of dag_id, run_id, task_id and map_index: a retry of the task
    (after a worker died, a gateway restart, a lost answer) finds the job its first try launched and follows it,
    instead of launching a second YARN application. Killing the task (``on_kill``: a SIGTERM, marking it failed or
    cleared in the UI) cancels the job.

    XCom: ``job_id`` (also the return value), ``application_id`` and ``links`` (the gateway's ``links``: ``yarn``,
    ``flinkUi``, ``jobManager``); extra links to the YARN application and the Flink UI.

    :param spec: the job request, every field of ``POST /v1/jobs`` (docs/API.md); ``jar``, ``name`` and ``args``
        below fill it in.
    :param jar: a local jar file (uploaded first, content-addressed), an ``hdfs://`` path (``jarPath``) or the id
        of a jar staged before (``jarId``).
    :param name: the job's (YARN application's) name.
    :param args: program arguments for ``main()``.
    :param wait_for_completion: wait for the job to end (else succeed once the gateway accepted it).
    :param deferrable: wait in the triggerer (long poll) instead of the worker.
    :param poll_timeout: seconds of one long poll.
    :param job_timeout: seconds to wait for the job to end before failing the task (the job keeps running
        unless ``cancel_on_timeout``); None: no limit.
    :param cancel_on_kill: cancel the job when the task is killed.
    :param request_retries: retries of a gateway call that failed for a transient reason.
    :param idempotency_key: override the key derived from the task instance.
    """

    template_fields: Sequence[str] = ("spec", "jar", "name", "args", "idempotency_key")
    template_fields_renderers = {"spec": "json"}
    operator_extra_links = (YarnGateYarnLink(), YarnGateFlinkUILink())
    ui_color = "#c8e6ff"

    def __init__(self, *, spec: dict[str, Any] | None = None, jar: str | None = None, name: str | None = None,
                 args: list[str] | None = None, yarngate_conn_id: str = YarnGateHook.default_conn_name,
                 wait_for_completion: bool = True,
                 deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
                 poll_timeout: float = 60.0, job_timeout: float | None = None, cancel_on_timeout: bool = True,
                 cancel_on_kill: bool = True, request_retries: int = 5, idempotency_key: str | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.spec = spec or {}
        self.jar = jar
        self.name = name
        self.args = args
        self.yarngate_conn_id = yarngate_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_timeout = poll_timeout
        self.job_timeout = job_timeout
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.request_retries = request_retries
        self.idempotency_key = idempotency_key
        self.job_id: str | None = None
        self._links: dict = {}

    @property
    def hook(self) -> YarnGateHook:
        """The hook of the task's connection."""
        return YarnGateHook(yarngate_conn_id=self.yarngate_conn_id, retries=self.request_retries)

    def build_spec(self, hook: YarnGateHook) -> dict[str, Any]:
        """The request: spec, with jar (uploaded when local), name and args filled in."""
        spec = dict(self.spec)
        if self.name:
            spec["name"] = self.name
        if self.args is not None:
            spec["args"] = [str(a) for a in self.args]
        if self.jar:
            if "jarId" in spec or "jarPath" in spec:
                raise AirflowException("give the jar either in jar or in spec (jarId/jarPath), not both")
            if self.jar.startswith("hdfs://"):
                spec["jarPath"] = self.jar
            elif os.path.isfile(self.jar):
                jar = hook.upload_jar(self.jar)
                self.log.info("Uploaded %s: jar %s (%d bytes)", self.jar, jar["id"], jar["size"])
                spec["jarId"] = jar["id"]
            elif "/" in self.jar or self.jar.endswith(".jar"):
                raise AirflowException(f"jar {self.jar!r}: no such local file (and not an hdfs:// path or a jar id)")
            else:
                spec["jarId"] = self.jar
        return spec

    def _note(self, context, job: dict[str, Any]) -> None:
        links = merge_links(self._links, job.get("links"))
        if links != self._links:
            self._links = links
            context["ti"].xcom_push(key=LINKS_XCOM_KEY, value=links)

    def execute(self, context) -> str:
        hook = self.hook
        spec = self.build_spec(hook)
        key = self.idempotency_key or idempotency_key(context)
        job, launched = hook.submit_job(spec, key)
        self.job_id = job["id"]
        if launched:
            self.log.info("Submitted yarngate job %s (Idempotency-Key %s)", self.job_id, key)
        else:
            self.log.info("Reconnected to yarngate job %s, launched by an earlier try (Idempotency-Key %s)",
                          self.job_id, key)
        ti = context["ti"]
        ti.xcom_push(key="job_id", value=self.job_id)
        ti.xcom_push(key="application_id", value=(job.get("yarn") or {}).get("applicationId"))
        self._note(context, job)
        self.log.info("YARN: %s", (job.get("links") or {}).get("yarn"))
        if not self.wait_for_completion:
            return self.job_id
        if job.get("terminal"):
            return self._finish(job)
        if self.deferrable:
            self.defer(
                trigger=YarnGateJobTrigger(job_id=self.job_id, yarngate_conn_id=self.yarngate_conn_id,
                                           poll_timeout=self.poll_timeout, timeout=self.job_timeout),
                method_name="execute_complete",
            )
        deadline = time.monotonic() + self.job_timeout if self.job_timeout else None
        state = [job.get("state")]

        def update(j):
            self._note(context, j)
            if j.get("state") != state[0]:
                state[0] = j.get("state")
                self.log.info("yarngate job %s is %s", self.job_id, state[0])

        try:
            job = hook.wait_for_job(self.job_id, "FINISHED", self.poll_timeout, deadline, update)
        except TimeoutError:
            self._timed_out(hook)
            raise
        return self._finish(job)

    def execute_complete(self, context, event: dict[str, Any]) -> str:
        """Resumes the task after the trigger fired."""
        self.job_id = self.job_id or (event.get("job") or {}).get("id")
        if event.get("status") == "error":
            raise AirflowException(f"waiting for yarngate job {self.job_id}: {event.get('message')}")
        job = event["job"]
        self._links = context["ti"].xcom_pull(task_ids=self.task_id, key=LINKS_XCOM_KEY) or {}
        self._note(context, job)
        if event.get("status") == "timeout":
            self._timed_out(self.hook)
            raise AirflowException(f"yarngate job {job['id']} is {job['state']} after {self.job_timeout}s")
        return self._finish(job)

    def _timed_out(self, hook: YarnGateHook) -> None:
        if self.cancel_on_timeout and self.job_id:
            self.log.warning("yarngate job %s did not end within %ss: cancelling it", self.job_id, self.job_timeout)
            hook.cancel_job(self.job_id)

    def _finish(self, job: dict[str, Any]) -> str:
        if job.get("state") == "FINISHED":
            self.log.info("yarngate job %s FINISHED", job["id"])
            return job["id"]
        job = self._with_failure(job)
        message = job_failure(job)
        self.log.error("%s", message)
        raise AirflowException(message)

    def _with_failure(self, job: dict[str, Any], patience: float = 30.0) -> dict[str, Any]:
        """The ended job with its failure: the gateway may record the Flink failure (from the job's archive or
        the JobManager log) a little after the state, so ask again for a while when it is missing."""
        if job.get("state") not in ("FAILED", "LOST") or (job.get("flink") or {}).get("failure"):
            return job
        deadline = time.monotonic() + patience
        try:
            hook = self.hook
            while time.monotonic() < deadline:
                job = hook.get_job(job["id"])
                if (job.get("flink") or {}).get("failure"):
                    break
                time.sleep(2)
        except Exception as e:  # the state is known; the failure's text is a bonus
            self.log.warning("Reading the failure of yarngate job %s: %s", job.get("id"), e)
        return job

    def on_kill(self) -> None:
        """Cancels the job (Flink cancels it; the job ends CANCELED)."""
        if not self.cancel_on_kill or not self.job_id:
            return
        self.log.info("Task killed: cancelling yarngate job %s", self.job_id)
        try:
            job = YarnGateHook(yarngate_conn_id=self.yarngate_conn_id, retries=2).cancel_job(self.job_id)
            self.log.info("yarngate job %s: %s", self.job_id, job.get("state"))
        except Exception:
            self.log.exception("Cancelling yarngate job %s failed", self.job_id)


class YarnGateCreateSessionOperator(BaseOperator):
    """
    Starts a Flink session cluster through yarngate (``POST /v1/sessions``, with an Idempotency-Key of the task
    instance) and by default waits until it runs. Returns (and pushes as ``session_id``) the session id, for
    ``spec={"target": "session", "sessionId": ...}`` of later jobs and for YarnGateStopSessionOperator.

    :param spec: the session request (``name``, ``queue``, ``jobManager``, ``taskManager``, ``flinkVersion``,
        ``flinkConfig``).
    :param wait_for_running: wait until the session is RUNNING; fails when it fails instead.
    :param start_timeout: seconds to wait for RUNNING.
    """

    template_fields: Sequence[str] = ("spec",)
    template_fields_renderers = {"spec": "json"}
    operator_extra_links = (YarnGateYarnLink(), YarnGateFlinkUILink())

    def __init__(self, *, spec: dict[str, Any] | None = None, yarngate_conn_id: str = YarnGateHook.default_conn_name,
                 wait_for_running: bool = True, start_timeout: float = 600.0, request_retries: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec or {}
        self.yarngate_conn_id = yarngate_conn_id
        self.wait_for_running = wait_for_running
        self.start_timeout = start_timeout
        self.request_retries = request_retries

    def execute(self, context) -> str:
        hook = YarnGateHook(yarngate_conn_id=self.yarngate_conn_id, retries=self.request_retries)
        session, launched = hook.create_session(self.spec, idempotency_key(context, "airflow-session"))
        sid = session["id"]
        self.log.info("%s yarngate session %s", "Started" if launched else "Reconnected to", sid)
        ti = context["ti"]
        ti.xcom_push(key="session_id", value=sid)
        ti.xcom_push(key=LINKS_XCOM_KEY, value=merge_links({}, session.get("links")))
        if not self.wait_for_running:
            return sid
        deadline = time.monotonic() + self.start_timeout
        while session["state"] != "RUNNING":
            if session["state"] in TERMINAL_SESSION_STATES:
                raise AirflowException(f"yarngate session {sid} ended {session['state']}: "
                                       f"{(session.get('yarn') or {}).get('diagnostics', '')}")
            if time.monotonic() > deadline:
                raise AirflowException(f"yarngate session {sid} is {session['state']} after {self.start_timeout}s")
            session = hook.get_session(sid, wait="RUNNING", timeout=60)
        ti.xcom_push(key=LINKS_XCOM_KEY, value=merge_links({}, session.get("links")))
        self.log.info("yarngate session %s is RUNNING: %s", sid, (session.get("links") or {}).get("flinkUi"))
        return sid


class YarnGateStopSessionOperator(BaseOperator):
    """
    Stops a yarngate session (``DELETE /v1/sessions/<id>``; its jobs are cancelled) and by default waits until it
    ended. Stopping a session that already ended succeeds.

    :param session_id: the session (templated: ``{{ ti.xcom_pull(task_ids='create', key='session_id') }}``).
    :param wait_for_stop: wait until the session is STOPPED (or FAILED).
    """

    template_fields: Sequence[str] = ("session_id",)

    def __init__(self, *, session_id: str, yarngate_conn_id: str = YarnGateHook.default_conn_name,
                 wait_for_stop: bool = True, stop_timeout: float = 300.0, request_retries: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.session_id = session_id
        self.yarngate_conn_id = yarngate_conn_id
        self.wait_for_stop = wait_for_stop
        self.stop_timeout = stop_timeout
        self.request_retries = request_retries

    def execute(self, context) -> str:
        hook = YarnGateHook(yarngate_conn_id=self.yarngate_conn_id, retries=self.request_retries)
        session = hook.stop_session(self.session_id)
        self.log.info("Stopping yarngate session %s: %s", self.session_id, session["state"])
        deadline = time.monotonic() + self.stop_timeout
        while self.wait_for_stop and session["state"] not in TERMINAL_SESSION_STATES:
            if time.monotonic() > deadline:
                raise AirflowException(f"yarngate session {self.session_id} is {session['state']} after {self.stop_timeout}s")
            session = hook.get_session(self.session_id, wait="STOPPED", timeout=30)
        self.log.info("yarngate session %s is %s", self.session_id, session["state"])
        return session["state"]
