"""
Apache Airflow provider for yarngate, the YARN-native submission gateway for Apache Flink.

The names below are a contract: DAGs import them from here.
"""

from __future__ import annotations

__version__ = "0.1.0"

from yarngate_provider.hooks.yarngate import YarnGateError, YarnGateHook
from yarngate_provider.operators.yarngate import (
    YarnGateCreateSessionOperator,
    YarnGateStopSessionOperator,
    YarnGateSubmitJobOperator,
)
from yarngate_provider.sensors.yarngate import YarnGateJobSensor
from yarngate_provider.triggers.yarngate import YarnGateJobTrigger

__all__ = [
    "YarnGateCreateSessionOperator",
    "YarnGateError",
    "YarnGateHook",
    "YarnGateJobSensor",
    "YarnGateJobTrigger",
    "YarnGateStopSessionOperator",
    "YarnGateSubmitJobOperator",
    "__version__",
]
