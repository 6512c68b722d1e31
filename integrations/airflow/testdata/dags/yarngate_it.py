"""DAGs of the provider's integration tests (airflow_test.go), run with `airflow dags test` against a real gateway
and the test cluster. The test sets YG_IT_* in the environment: the example job's jar, a unique job name and an HDFS
output path."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from yarngate_provider import YarnGateJobSensor, YarnGateSubmitJobOperator

JAR = os.environ.get("YG_IT_JAR", "/nonexistent.jar")
NAME = os.environ.get("YG_IT_NAME", "yarngate-airflow-it")
OUTPUT = os.environ.get("YG_IT_OUTPUT", "hdfs:///tmp/yarngate-airflow-it")
SMALL = {"jobManager": {"memory": "1024m"}, "taskManager": {"memory": "1024m", "slots": 1}, "parallelism": 1}
START = datetime(2026, 1, 1)

# A bounded job, deferrable (the trigger long-polls), then the sensor on its job id.
with DAG("yarngate_bounded", start_date=START, schedule=None, catchup=False):
    submit = YarnGateSubmitJobOperator(
        task_id="submit", jar=JAR, name=NAME, args=["--mode", "bounded", "--n", "1000", "--output", OUTPUT],
        spec=SMALL, deferrable=True, poll_timeout=20,
    )
    sense = YarnGateJobSensor(task_id="sense", job_id="{{ ti.xcom_pull(task_ids='submit', key='job_id') }}",
                              poke_interval=1, timeout=600)
    submit >> sense

# A job whose main() throws once its Flink job finished: the task fails with the failure in its log.
with DAG("yarngate_failing", start_date=START, schedule=None, catchup=False):
    YarnGateSubmitJobOperator(
        task_id="submit", jar=JAR, name=NAME, spec=SMALL, poll_timeout=20,
        args=["--mode", "bounded", "--n", "10", "--output", OUTPUT, "--then-fail", os.environ.get("YG_IT_FAILURE", "boom")],
    )

# A job that runs until cancelled: the test kills the task (SIGTERM), on_kill cancels the job.
with DAG("yarngate_kill", start_date=START, schedule=None, catchup=False):
    YarnGateSubmitJobOperator(
        task_id="submit", jar=JAR, name=NAME, spec=SMALL, poll_timeout=20,
        args=["--mode", "unbounded", "--rate", "10"],
    )

# A bounded job whose first try loses the gateway (the test kills it): no retries inside the hook, so the task
# fails and Airflow retries it; the retry must find the same job through the Idempotency-Key.
with DAG("yarngate_restart", start_date=START, schedule=None, catchup=False):
    YarnGateSubmitJobOperator(
        task_id="submit", jar=JAR, name=NAME, spec=SMALL, poll_timeout=20, request_retries=0,
        retries=6, retry_delay=timedelta(seconds=8),
        args=["--mode", "bounded", "--n", "1000", "--output", OUTPUT],
    )
