"""Unit tests of YarnGateHook and YarnGateJobTrigger against a fake gateway."""

from __future__ import annotations

import json

import pytest
from conftest import job

from yarngate_provider import YarnGateError, YarnGateHook, YarnGateJobTrigger
from yarngate_provider.hooks.yarngate import reached


def test_submit_sends_token_key_and_spec(gateway):
    gateway.route("POST", "/v1/jobs", lambda r: (202, job(), {}))
    j, launched = YarnGateHook().submit_job({"name": "n", "jarId": "abc"}, "k-1")
    assert launched and j["id"] == "application_1_0001"
    req = gateway.requests[0]
    assert req["headers"]["Authorization"] == "Bearer s3cret"
    assert req["headers"]["Idempotency-Key"] == "k-1"
    assert json.loads(req["body"]) == {"name": "n", "jarId": "abc"}


def test_submit_replayed_is_not_launched(gateway):
    gateway.route("POST", "/v1/jobs", lambda r: (200, job(), {}))
    _, launched = YarnGateHook().submit_job({"jarId": "abc"}, "k-1")
    assert not launched


@pytest.mark.parametrize(
    "status,body,code",
    [
        (400, {"error": {"code": "invalid_spec", "message": "parallelism: must be at least 1", "requestId": "x"}}, "invalid_spec"),
        (422, {"error": {"code": "idempotency_key_reused", "message": "different request", "requestId": "y"}}, "idempotency_key_reused"),
        (401, {"error": {"code": "unauthenticated", "message": "authentication required", "requestId": "z"}}, "unauthenticated"),
        (500, "not json", "http_error"),
    ],
)
def test_error_bodies_become_errors(gateway, status, body, code):
    gateway.route("POST", "/v1/jobs", lambda r: (status, body, {}))
    with pytest.raises(YarnGateError) as e:
        YarnGateHook(retries=0).submit_job({"jarId": "abc"})
    assert e.value.status == status and e.value.code == code
    assert len(gateway.requests) == 1  # 4xx and 500 are not retried


def test_transient_answers_are_retried(gateway):
    answers = iter([(503, {"error": {"code": "unavailable", "message": "HDFS down"}}, {"Retry-After": "0"}),
                    (429, {"error": {"code": "rate_limited", "message": "slow down"}}, {"Retry-After": "0"}),
                    (202, job(), {})])
    gateway.route("POST", "/v1/jobs", lambda r: next(answers))
    j, _ = YarnGateHook(retries=3, backoff=0).submit_job({"jarId": "abc"}, "k")
    assert j["state"] == "RUNNING" and len(gateway.requests) == 3
    assert {r["headers"]["Idempotency-Key"] for r in gateway.requests} == {"k"}


def test_retries_are_bounded(gateway):
    gateway.route("GET", "/v1/jobs/a", lambda r: (503, {"error": {"code": "unavailable", "message": "m"}}, {"Retry-After": "0"}))
    with pytest.raises(YarnGateError):
        YarnGateHook(retries=2, backoff=0).get_job("a")
    assert len(gateway.requests) == 3


def test_connection_refused_is_retried_then_raised(monkeypatch):
    import httpx

    monkeypatch.setenv("AIRFLOW_CONN_YARNGATE_DEFAULT", json.dumps({"conn_type": "yarngate", "host": "127.0.0.1", "port": 1}))
    with pytest.raises(httpx.TransportError):
        YarnGateHook(retries=1, backoff=0).get_job("a")


def test_long_poll_parameters(gateway):
    gateway.route("GET", "/v1/jobs/application_1_0001", lambda r: (200, job(state="FINISHED", terminal=True), {}))
    j = YarnGateHook().get_job("application_1_0001", wait="FINISHED", timeout=45)
    assert j["state"] == "FINISHED"
    assert gateway.requests[0]["query"] == "wait=FINISHED&timeout=45s"


def test_wait_for_job_polls_until_terminal(gateway):
    answers = iter([job(state="STARTING"), job(state="RUNNING"), job(state="FAILED", terminal=True, failure="boom")])
    gateway.route("GET", "/v1/jobs/application_1_0001", lambda r: (200, next(answers), {}))
    seen = []
    j = YarnGateHook().wait_for_job("application_1_0001", on_update=lambda x: seen.append(x["state"]))
    assert j["flink"]["failure"] == "boom" and seen == ["STARTING", "RUNNING", "FAILED"]


def test_upload_streams_the_file(gateway, tmp_path):
    jar = tmp_path / "app.jar"
    jar.write_bytes(b"PK\x03\x04" + b"x" * 3_000_000)
    gateway.route("POST", "/v1/jars", lambda r: (201, {"id": "sha", "size": len(r["body"]), "name": "app.jar"}, {}))
    got = YarnGateHook().upload_jar(str(jar))
    req = gateway.requests[0]
    assert got["size"] == 3_000_004 and req["body"] == jar.read_bytes()
    assert req["query"] == "name=app.jar" and req["headers"]["Content-Type"] == "application/java-archive"


def test_cancel_and_sessions(gateway):
    gateway.route("POST", "/v1/jobs/a/cancel", lambda r: (202, job("a"), {}))
    gateway.route("POST", "/v1/sessions", lambda r: (202, {"id": "s", "state": "STARTING"}, {}))
    gateway.route("DELETE", "/v1/sessions/s", lambda r: (202, {"id": "s", "state": "STOPPING"}, {}))
    hook = YarnGateHook()
    hook.cancel_job("a")
    assert hook.create_session({"name": "s"}, "key") == ({"id": "s", "state": "STARTING"}, True)
    assert hook.stop_session("s")["state"] == "STOPPING"
    assert [r["method"] + " " + r["path"] for r in gateway.requests] == [
        "POST /v1/jobs/a/cancel", "POST /v1/sessions", "DELETE /v1/sessions/s"]


@pytest.mark.parametrize(
    "host,port,extra,want",
    [
        ("https://gw.example.com:8443/", None, {}, "https://gw.example.com:8443"),
        ("gw.example.com", 8080, {}, "http://gw.example.com:8080"),
        ("gw.example.com", 8443, {"protocol": "https"}, "https://gw.example.com:8443"),
        ("http://gw", 8080, {}, "http://gw:8080"),
    ],
)
def test_base_url(monkeypatch, host, port, extra, want):
    monkeypatch.setenv("AIRFLOW_CONN_YARNGATE_DEFAULT",
                       json.dumps({"conn_type": "yarngate", "host": host, "port": port, "extra": extra}))
    assert YarnGateHook().base_url() == want


@pytest.mark.parametrize(
    "state,target,want",
    [("RUNNING", "RUNNING", True), ("FINISHED", "RUNNING", True), ("STARTING", "RUNNING", False),
     ("FAILED", "RUNNING", False), ("RUNNING", "FINISHED", False), ("CANCELED", "CANCELED", True)],
)
def test_reached(state, target, want):
    assert reached(state, target) is want


async def test_trigger_long_polls_until_done(gateway):
    answers = iter([job(state="RUNNING"), job(state="FINISHED", terminal=True)])
    gateway.route("GET", "/v1/jobs/application_1_0001", lambda r: (200, next(answers), {}))
    trigger = YarnGateJobTrigger(job_id="application_1_0001", poll_timeout=5)
    events = [e async for e in trigger.run()]
    assert len(events) == 1 and events[0].payload["status"] == "done"
    assert events[0].payload["job"]["state"] == "FINISHED"
    assert all(r["query"] == "wait=FINISHED&timeout=5s" for r in gateway.requests)
    classpath, kwargs = trigger.serialize()
    assert classpath == "yarngate_provider.triggers.yarngate.YarnGateJobTrigger"
    assert YarnGateJobTrigger(**kwargs).job_id == "application_1_0001"


async def test_trigger_reports_errors(gateway):
    gateway.route("GET", "/v1/jobs/a", lambda r: (404, {"error": {"code": "not_found", "message": "no such job"}}, {}))
    events = [e async for e in YarnGateJobTrigger(job_id="a").run()]
    assert events[0].payload["status"] == "error" and "not_found" in events[0].payload["message"]
