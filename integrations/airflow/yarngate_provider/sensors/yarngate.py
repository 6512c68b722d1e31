"""A sensor that waits for an existing yarngate job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.configuration import conf
from airflow.exceptions import AirflowException
from airflow.sdk import BaseSensorOperator

from yarngate_provider.hooks.yarngate import TERMINAL_JOB_STATES, YarnGateHook, reached
from yarngate_provider.links.yarngate import LINKS_XCOM_KEY, YarnGateFlinkUILink, YarnGateYarnLink
from yarngate_provider.operators.yarngate import job_failure, merge_links
from yarngate_provider.triggers.yarngate import YarnGateJobTrigger


class YarnGateJobSensor(BaseSensorOperator):
    """
    Waits until a yarngate job (submitted by another task, or outside Airflow) reached ``target_state``:
    ``FINISHED`` (the default) or a state on the way there, such as ``RUNNING`` (a later state counts). A job that
    ended otherwise (FAILED, CANCELED, KILLED, LOST) fails the sensor at once, with the Flink failure.

    Each poke is one long poll of up to ``poll_timeout`` seconds, so the sensor learns of the change within a
    second rather than at the next poke. Deferrable: waits in the triggerer with the same long poll.

    :param job_id: the job (templated, such as ``{{ ti.xcom_pull(task_ids='submit', key='job_id') }}``).
    :param target_state: the state to wait for.
    """

    template_fields: Sequence[str] = ("job_id", "target_state")
    operator_extra_links = (YarnGateYarnLink(), YarnGateFlinkUILink())

    def __init__(self, *, job_id: str, target_state: str = "FINISHED",
                 yarngate_conn_id: str = YarnGateHook.default_conn_name, poll_timeout: float = 30.0,
                 deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False), **kwargs):
        super().__init__(**kwargs)
        self.job_id = job_id
        self.target_state = target_state.upper()
        self.yarngate_conn_id = yarngate_conn_id
        self.poll_timeout = poll_timeout
        self.deferrable = deferrable

    def _check(self, context, job: dict[str, Any]) -> bool:
        context["ti"].xcom_push(key=LINKS_XCOM_KEY, value=merge_links(
            context["ti"].xcom_pull(task_ids=self.task_id, key=LINKS_XCOM_KEY), job.get("links")))
        if reached(job["state"], self.target_state):
            self.log.info("yarngate job %s is %s", job["id"], job["state"])
            return True
        if job["state"] in TERMINAL_JOB_STATES:
            raise AirflowException(job_failure(job))
        self.log.info("yarngate job %s is %s, waiting for %s", job["id"], job["state"], self.target_state)
        return False

    def poke(self, context) -> bool:
        hook = YarnGateHook(yarngate_conn_id=self.yarngate_conn_id)
        return self._check(context, hook.get_job(self.job_id, wait=self.target_state, timeout=self.poll_timeout))

    def execute(self, context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        self.defer(
            trigger=YarnGateJobTrigger(job_id=self.job_id, yarngate_conn_id=self.yarngate_conn_id,
                                       target_state=self.target_state, poll_timeout=self.poll_timeout,
                                       timeout=self.timeout),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def execute_complete(self, context, event: dict[str, Any]) -> None:
        """Resumes the sensor after the trigger fired."""
        if event.get("status") == "error":
            raise AirflowException(f"waiting for yarngate job {self.job_id}: {event.get('message')}")
        if not self._check(context, event["job"]):
            raise AirflowException(f"yarngate job {self.job_id} is {event['job']['state']} after {self.timeout}s")
