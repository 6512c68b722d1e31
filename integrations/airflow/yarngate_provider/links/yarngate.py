"""Operator extra links of yarngate tasks: the job's YARN application page and its Flink web UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

#: The XCom key under which yarngate tasks keep the links of their job or session (the gateway's ``links``).
LINKS_XCOM_KEY = "links"


def _link(ti_key: TaskInstanceKey, name: str) -> str:
    from airflow.sdk.execution_time.xcom import XCom

    links = XCom.get_value(ti_key=ti_key, key=LINKS_XCOM_KEY) or {}
    return (links or {}).get(name) or ""


class YarnGateYarnLink(BaseOperatorLink):
    """The YARN application page of the task's job or session."""

    name = "YARN application"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return _link(ti_key, "yarn")


class YarnGateFlinkUILink(BaseOperatorLink):
    """The Flink web UI of the task's job or session (through the ResourceManager's proxy)."""

    name = "Flink UI"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return _link(ti_key, "flinkUi")
