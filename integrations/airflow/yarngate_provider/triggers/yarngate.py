"""The trigger of deferrable yarngate tasks: long-polls a job until it reached a state or ended."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from yarngate_provider.hooks.yarngate import YarnGateHook, reached


class YarnGateJobTrigger(BaseTrigger):
    """
    Waits in the triggerer for a yarngate job to reach ``target_state`` (or to end), with the gateway's long poll
    (``GET /v1/jobs/<id>?wait=<target_state>&timeout=<poll_timeout>s``): one open request per waiting task, no
    busy polling.

    Fires one event: ``{"status": "done", "job": <job object>}`` once the job reached the state or ended,
    ``{"status": "timeout", "job": ...}`` after ``timeout`` seconds (``None``: never), or ``{"status": "error",
    "message": ...}`` when the gateway could not be asked (after the hook's retries).
    """

    def __init__(self, job_id: str, yarngate_conn_id: str = YarnGateHook.default_conn_name, target_state: str = "FINISHED",
                 poll_timeout: float = 60.0, timeout: float | None = None, started: float | None = None):
        super().__init__()
        self.job_id = job_id
        self.yarngate_conn_id = yarngate_conn_id
        self.target_state = target_state
        self.poll_timeout = poll_timeout
        self.timeout = timeout
        self.started = started if started is not None else time.time()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "yarngate_provider.triggers.yarngate.YarnGateJobTrigger",
            {
                "job_id": self.job_id,
                "yarngate_conn_id": self.yarngate_conn_id,
                "target_state": self.target_state,
                "poll_timeout": self.poll_timeout,
                "timeout": self.timeout,
                "started": self.started,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = YarnGateHook(yarngate_conn_id=self.yarngate_conn_id)
        try:
            while True:
                job = await hook.aget_job(self.job_id, wait=self.target_state, timeout=self.poll_timeout)
                if reached(job["state"], self.target_state) or job.get("terminal"):
                    yield TriggerEvent({"status": "done", "job": job})
                    return
                if self.timeout is not None and time.time() - self.started > self.timeout:
                    yield TriggerEvent({"status": "timeout", "job": job})
                    return
                await asyncio.sleep(0)
        except Exception as e:  # the event carries it to the task, which fails with it
            yield TriggerEvent({"status": "error", "message": f"{type(e).__name__}: {e}"})
