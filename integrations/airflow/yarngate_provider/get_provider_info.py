"""The provider's description for Airflow (the apache_airflow_provider entry point)."""

from __future__ import annotations


def get_provider_info() -> dict:
    """Connection type, hooks, operators, sensors, triggers and extra links of the yarngate provider."""
    return {
        "package-name": "airflow-provider-yarngate",
        "name": "yarngate",
        "description": "Submit Apache Flink jobs to YARN through yarngate, follow and cancel them.",
        "versions": ["0.1.0"],
        "integrations": [{"integration-name": "yarngate", "external-doc-url": "https://github.com/yarngate/yarngate",
                          "tags": ["service"]}],
        "hooks": [{"integration-name": "yarngate", "python-modules": ["yarngate_provider.hooks.yarngate"]}],
        "operators": [{"integration-name": "yarngate", "python-modules": ["yarngate_provider.operators.yarngate"]}],
        "sensors": [{"integration-name": "yarngate", "python-modules": ["yarngate_provider.sensors.yarngate"]}],
        "triggers": [{"integration-name": "yarngate", "python-modules": ["yarngate_provider.triggers.yarngate"]}],
        "extra-links": [
            "yarngate_provider.links.yarngate.YarnGateYarnLink",
            "yarngate_provider.links.yarngate.YarnGateFlinkUILink",
        ],
        "connection-types": [
            {"hook-class-name": "yarngate_provider.hooks.yarngate.YarnGateHook", "connection-type": "yarngate"}
        ],
    }
