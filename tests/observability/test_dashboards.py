"""The dashboards: the committed JSON is what observability/grafana/dashboards.py generates, every query
parses, and every panel reads the provisioned Prometheus. tests/e2e checks each query returns data."""

import json
from pathlib import Path

import yaml

from observability.grafana.dashboards import DASHBOARDS, OUTPUT, render
from tests.observability.rules import promtool_parses

PROVISIONING = OUTPUT.parent / "provisioning"


def test_the_committed_dashboards_are_what_the_code_generates() -> None:
    assert {path.name for path in OUTPUT.glob("*.json")} == {f"{spec.uid}.json" for spec in DASHBOARDS}
    for spec in DASHBOARDS:
        assert (OUTPUT / f"{spec.uid}.json").read_text() == render(spec), (
            f"{spec.uid}.json is stale: run `make dashboards`"
        )


def test_every_panel_query_parses(tmp_path: Path) -> None:
    expressions = [
        target["expr"].replace("$__rate_interval", "1m")
        for spec in DASHBOARDS
        for panel in json.loads(render(spec))["panels"]
        for target in panel.get("targets", [])
    ]
    assert len(expressions) > 25
    parsed, output = promtool_parses(expressions, tmp_path)
    assert parsed, output


def test_every_panel_reads_the_prometheus_the_provisioning_defines() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yaml").read_text())[
        "datasources"
    ]
    by_type = {source["type"]: source for source in datasources}
    # Exemplars open their trace in the provisioned Jaeger.
    destination = by_type["prometheus"]["jsonData"]["exemplarTraceIdDestinations"][0]
    assert destination["datasourceUid"] == by_type["jaeger"]["uid"]
    for spec in DASHBOARDS:
        dashboard = json.loads(render(spec))
        (variable,) = dashboard["templating"]["list"]
        assert variable["query"] == "prometheus"
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
                assert panel["description"], panel["title"]
