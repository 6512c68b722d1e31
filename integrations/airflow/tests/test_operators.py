"""Unit tests of the operators and the sensor against a fake gateway, with a stand-in task instance."""

from __future__ import annotations

import json
import os

import pytest
from airflow.exceptions import AirflowException
from conftest import job

from yarngate_provider import (
    YarnGateCreateSessionOperator,
    YarnGateJobSensor,
    YarnGateStopSessionOperator,
    YarnGateSubmitJobOperator,
)
from yarngate_provider.get_provider_info import get_provider_info
from yarngate_provider.operators.yarngate import idempotency_key, merge_links


class FakeTI:
    def __init__(self, dag_id="d", run_id="manual__2026-01-01T00:00:00+00:00", task_id="t", map_index=-1):
        self.dag_id, self.run_id, self.task_id, self.map_index = dag_id, run_id, task_id, map_index
        self.xcom: dict = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value

    def xcom_pull(self, task_ids=None, key=None):
        return self.xcom.get(key)


def ctx(**kw):
    return {"ti": FakeTI(**kw)}


def test_idempotency_key_names_the_task_instance_not_the_try():
    assert idempotency_key(ctx()) == "airflow:d:manual__2026-01-01T00:00:00+00:00:t:-1"
    assert idempotency_key(ctx(map_index=3)).endswith(":t:3")
    long = idempotency_key(ctx(run_id="r" * 300))
    assert long.startswith("airflow:sha256:") and len(long) <= 255
    assert idempotency_key(ctx(run_id="nächtlich")).startswith("airflow:sha256:")


def test_merge_links_keeps_known_links():
    assert merge_links({"yarn": "y", "flinkUi": "f"}, {"yarn": "y", "flinkUi": None}) == {"yarn": "y", "flinkUi": "f"}


def test_submit_uploads_a_local_jar_and_waits(gateway, tmp_path):
    jar = tmp_path / "job.jar"
    jar.write_bytes(b"PK\x03\x04jar")
    gateway.route("POST", "/v1/jars", lambda r: (201, {"id": "jar1", "size": 7}, {}))
    gateway.route("POST", "/v1/jobs", lambda r: (202, job(state="SUBMITTED"), {}))
    polls = iter([job(state="RUNNING"), job(state="FINISHED", terminal=True, links={"yarn": "y", "flinkUi": None})])
    gateway.route("GET", "/v1/jobs/application_1_0001", lambda r: (200, next(polls), {}))
    op = YarnGateSubmitJobOperator(task_id="t", jar=str(jar), name="nightly", args=["--n", 5], spec={"parallelism": 2})
    c = ctx()
    assert op.execute(c) == "application_1_0001"
    submitted = json.loads(gateway.requests[1]["body"])
    assert submitted == {"parallelism": 2, "name": "nightly", "args": ["--n", "5"], "jarId": "jar1"}
    assert gateway.requests[1]["headers"]["Idempotency-Key"] == "airflow:d:manual__2026-01-01T00:00:00+00:00:t:-1"
    x = c["ti"].xcom
    assert x["job_id"] == x["application_id"] == "application_1_0001"
    assert x["links"]["flinkUi"] == "http://rm/proxy/application_1_0001/"  # kept after the job ended


@pytest.mark.parametrize("jar,field", [("hdfs:///jars/a.jar", "jarPath"), ("9f2c01", "jarId")])
def test_submit_jar_path_or_id(gateway, jar, field):
    gateway.route("POST", "/v1/jobs", lambda r: (202, job(state="RUNNING"), {}))
    YarnGateSubmitJobOperator(task_id="t", jar=jar, wait_for_completion=False).execute(ctx())
    assert json.loads(gateway.requests[0]["body"]) == {field: jar}


def test_submit_fails_with_the_flink_failure(gateway):
    gateway.route("POST", "/v1/jobs", lambda r: (200, job(state="FAILED", terminal=True,
                                                          failure="java.lang.IllegalStateException: boom"), {}))
    with pytest.raises(AirflowException, match="ended FAILED; Flink failure: java.lang.IllegalStateException: boom"):
        YarnGateSubmitJobOperator(task_id="t", jar="abc").execute(ctx())


def test_missing_local_jar_is_an_error(gateway):
    with pytest.raises(AirflowException, match="no such local file"):
        YarnGateSubmitJobOperator(task_id="t", jar="/nonexistent/x.jar").execute(ctx())
    assert gateway.requests == []


def test_on_kill_cancels(gateway):
    gateway.route("POST", "/v1/jobs/application_1_0001/cancel", lambda r: (202, job(state="RUNNING"), {}))
    op = YarnGateSubmitJobOperator(task_id="t", jar="abc")
    op.on_kill()  # nothing submitted yet: nothing to cancel
    assert gateway.requests == []
    op.job_id = "application_1_0001"
    op.on_kill()
    assert [r["path"] for r in gateway.requests] == ["/v1/jobs/application_1_0001/cancel"]


def test_deferrable_defers_to_the_trigger(gateway):
    from airflow.exceptions import TaskDeferred

    gateway.route("POST", "/v1/jobs", lambda r: (202, job(state="ACCEPTED"), {}))
    op = YarnGateSubmitJobOperator(task_id="t", jar="abc", deferrable=True, poll_timeout=20)
    with pytest.raises(TaskDeferred) as d:
        op.execute(ctx())
    assert d.value.trigger.job_id == "application_1_0001" and d.value.trigger.poll_timeout == 20
    assert op.execute_complete(ctx(), {"status": "done", "job": job(state="FINISHED", terminal=True)}) == "application_1_0001"
    with pytest.raises(AirflowException, match="ended KILLED"):
        op.execute_complete(ctx(), {"status": "done", "job": job(state="KILLED", terminal=True)})


def test_sensor(gateway):
    answers = iter([job(state="STARTING"), job(state="RUNNING"), job(state="CANCELED", terminal=True)])
    gateway.route("GET", "/v1/jobs/application_1_0001", lambda r: (200, next(answers), {}))
    s = YarnGateJobSensor(task_id="s", job_id="application_1_0001", target_state="running", poll_timeout=1)
    assert not s.poke(ctx())
    assert s.poke(ctx())
    with pytest.raises(AirflowException, match="ended CANCELED"):
        s.poke(ctx())


def test_session_operators(gateway):
    gateway.route("POST", "/v1/sessions", lambda r: (202, {"id": "s1", "state": "STARTING", "links": {"yarn": "y"}}, {}))
    gateway.route("GET", "/v1/sessions/s1", lambda r: (200, {"id": "s1", "state": "RUNNING" if "RUNNING" in r["query"] else "STOPPED",
                                                             "links": {"yarn": "y", "flinkUi": "f"}}, {}))
    gateway.route("DELETE", "/v1/sessions/s1", lambda r: (202, {"id": "s1", "state": "STOPPING"}, {}))
    c = ctx()
    assert YarnGateCreateSessionOperator(task_id="c", spec={"name": "s"}).execute(c) == "s1"
    assert c["ti"].xcom["session_id"] == "s1" and c["ti"].xcom["links"]["flinkUi"] == "f"
    assert gateway.requests[0]["headers"]["Idempotency-Key"].startswith("airflow-session:d:")
    assert YarnGateStopSessionOperator(task_id="x", session_id="s1").execute(ctx()) == "STOPPED"


def test_provider_info_names_importable_classes():
    import importlib

    info = get_provider_info()
    assert info["connection-types"][0]["connection-type"] == "yarngate"
    for dotted in [info["connection-types"][0]["hook-class-name"], *info["extra-links"]]:
        module, _, name = dotted.rpartition(".")
        assert getattr(importlib.import_module(module), name)


@pytest.mark.skipif(not os.environ.get("YARNGATE_PROVIDER_INSTALLED"), reason="the provider is not installed as a package")
def test_airflow_finds_the_provider():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-yarngate" in pm.providers
    hook = pm.hooks["yarngate"]
    assert hook is not None and hook.hook_class_name == "yarngate_provider.hooks.yarngate.YarnGateHook"
    assert hook.connection_type == "yarngate"
    pm.initialize_providers_extra_links()
    assert "yarngate_provider.links.yarngate.YarnGateYarnLink" in pm.extra_links_class_names
