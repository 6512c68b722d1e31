"""
Run a Flink job through yarngate from Airflow with nothing but Airflow's generic HTTP provider
(apache-airflow-providers-http): upload the jar, submit the job, wait for its end.

The connection ``yarngate_http`` (type ``http``) holds the gateway's address in Host (``https://gateway:8443``)
and a bearer token in Password. The yarngate provider (integrations/airflow) does more — retries that reconnect to
the same job, cancel on kill, links — but this DAG shows the API is enough on its own:

- The Idempotency-Key names the task instance (dag, run, task), not the try: a retry of ``submit`` finds the job
  its first try launched (200) instead of launching a second one.
- The sensor long-polls: each poke waits up to 30 s on the gateway for the job to end, so it learns of the end
  within a second; a job that ended in another state than FINISHED fails the sensor at once, with Flink's failure.

Settings come from the environment here so that the repository's test can run it; use Params or Variables in yours.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.exceptions import AirflowException
from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor
from airflow.sdk import DAG

JAR = os.environ.get("YARNGATE_EXAMPLE_JAR", "examples/streaming/target/yarngate-example.jar")
NAME = os.environ.get("YARNGATE_EXAMPLE_NAME", "sum-bounded-http")
OUTPUT = os.environ.get("YARNGATE_EXAMPLE_OUTPUT", "hdfs:///tmp/sum-bounded-http")
AUTH = {"Authorization": "Bearer {{ conn.yarngate_http.password }}"}
TERMINAL = {"FINISHED", "FAILED", "CANCELED", "KILLED", "LOST"}


def job_ended(response) -> bool:
    """True once the job FINISHED; an error for any other end; False while it runs."""
    job = response.json()
    if job["state"] == "FINISHED":
        return True
    if job["state"] in TERMINAL:
        raise AirflowException(f"job {job['id']} ended {job['state']}: {(job.get('flink') or {}).get('failure')}")
    return False


with DAG("yarngate_http_example", start_date=datetime(2026, 1, 1), schedule=None, catchup=False,
         default_args={"retries": 2, "retry_delay": timedelta(seconds=10)}):
    # POST /v1/jars: the same bytes are the same jar (its SHA-256), so uploading on every run is cheap.
    upload = HttpOperator(
        task_id="upload", http_conn_id="yarngate_http", method="POST",
        endpoint=f"/v1/jars?name={os.path.basename(JAR)}",
        headers={**AUTH, "Content-Type": "application/java-archive"},
        data=Path(JAR).read_bytes() if Path(JAR).is_file() else b"",
        response_filter=lambda r: r.json()["id"],
    )
    submit = HttpOperator(
        task_id="submit", http_conn_id="yarngate_http", method="POST", endpoint="/v1/jobs",
        headers={**AUTH, "Content-Type": "application/json",
                 "Idempotency-Key": "{{ dag.dag_id }}:{{ run_id }}:{{ task.task_id }}"},
        data=json.dumps({
            "name": NAME,
            "jarId": "{{ ti.xcom_pull(task_ids='upload') }}",
            "args": ["--mode", "bounded", "--n", "1000", "--output", OUTPUT],
        }),
        response_filter=lambda r: r.json()["id"],
    )
    wait = HttpSensor(
        task_id="wait", http_conn_id="yarngate_http", method="GET",
        endpoint="/v1/jobs/{{ ti.xcom_pull(task_ids='submit') }}",
        request_params={"wait": "FINISHED", "timeout": "30s"},
        headers=AUTH, response_check=job_ended, poke_interval=1, timeout=1800,
        extra_options={"timeout": 60},
    )
    upload >> submit >> wait
