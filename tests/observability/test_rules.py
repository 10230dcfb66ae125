"""The alert and recording rules: generated from the SLOs without drift, valid, and each alert tested."""

import subprocess
from pathlib import Path

import yaml

from observability import tools
from tests.observability.rules import OBSERVABILITY, RULE_FILES, RUNBOOK_BASE_URL, alert_names, rules

PROMETHEUS = OBSERVABILITY / "prometheus"


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def test_the_slo_rules_are_what_sloth_generates_from_slos_yaml(tmp_path: Path) -> None:
    generated = tmp_path / "slos.yml"
    tools.generate_slo_rules(generated)
    assert generated.read_text() == (PROMETHEUS / "rules" / "slos.yml").read_text(), (
        "observability/prometheus/rules/slos.yml is stale: run `make rules`"
    )


def test_promtool_accepts_every_rule_file_and_the_prometheus_config() -> None:
    checked = run([str(tools.promtool()), "check", "rules", *map(str, RULE_FILES)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = run([str(tools.promtool()), "check", "config", str(PROMETHEUS / "prometheus.yml")])
    assert config.returncode == 0, config.stdout + config.stderr


def test_alertmanager_accepts_its_config() -> None:
    checked = run(["amtool", "check-config", str(OBSERVABILITY / "alertmanager" / "alertmanager.yml")])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_and_stays_quiet_in_the_promtool_tests() -> None:
    test_files = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
    result = run([str(tools.promtool()), "test", "rules", *map(str, test_files)])
    assert result.returncode == 0, result.stdout + result.stderr
    fired = set()
    for path in test_files:
        for case in yaml.safe_load(path.read_text())["tests"]:
            fired |= {test["alertname"] for test in case.get("alert_rule_test", []) if test["exp_alerts"]}
    assert fired == alert_names(), f"alerts without a firing test: {sorted(alert_names() - fired)}"


def test_every_alert_says_how_bad_what_happened_and_where_its_runbook_is() -> None:
    for rule in rules("alert"):
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE_URL}{rule['alert']}.md", rule["alert"]


def test_only_slo_alerts_and_a_total_outage_page() -> None:
    paging = {rule["alert"] for rule in rules("alert") if rule["labels"]["severity"] == "critical"}
    outage = {"PixelpetDown", "PixelpetProbeFailing"}
    assert paging == {name for name in alert_names() if name.endswith("BudgetBurn")} | outage


def test_a_total_outage_pages_by_absence_and_by_the_prober() -> None:
    """The burn rates are ratios of the service's own counters: with every instance gone there are no samples.
    Something must page on absence (`absent()`) and on the black-box prober's `pixelpet_probe_success`."""
    critical = [rule for rule in rules("alert") if rule["labels"]["severity"] == "critical"]
    assert any('absent(up{job="pixelpet"}' in rule["expr"] for rule in critical)
    assert any("pixelpet_probe_success" in rule["expr"] for rule in critical)
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert "pixelpet-probe" in jobs, "Prometheus scrapes the prober"
    assert sorted(config["rule_files"]) == sorted(f"rules/{path.name}" for path in RULE_FILES)
