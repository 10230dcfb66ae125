"""compose.yaml, checked without a Docker engine: against the compose specification, and against the
project (every mounted file exists, the app's variables are settings the service knows, ports line up)."""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import BaseModel

from pixelpet.devdb import free_port
from pixelpet.settings import Settings
from pixelpet.telemetry.tracing import trace_export
from tests.conftest import unique_database
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.service import ServiceProcess, venv_tool, wait_until_ready
from tests.support.ws import SubscriptionClient

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APPS = ["app-1", "app-2"]


def test_compose_yaml_follows_the_compose_specification() -> None:
    checked = subprocess.run(
        [
            venv_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_typo_in_a_field_fails_the_specification_check(tmp_path: Path) -> None:
    broken = dict(COMPOSE, services={**SERVICES, "lb": {**SERVICES["lb"], "helthcheck": {}}})
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    checked = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode != 0


def test_every_image_is_pinned_and_every_long_running_service_has_limits() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image, f"{name}: pin {image}"
        assert not image.endswith(":latest"), f"{name}: pin {image}"
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert service["restart"] == "unless-stopped", name


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_mounted_file_exists(service: str) -> None:
    for volume in SERVICES[service].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{service} mounts {source}, which does not exist"


def test_the_apps_set_only_settings_the_service_knows() -> None:
    for app in APPS:
        environment: dict[str, str] = SERVICES[app]["environment"]
        for name in environment:
            if name.startswith("PIXELPET_"):
                assert _is_setting(name.removeprefix("PIXELPET_").lower().split("__")), name
            else:
                assert name.startswith("OTEL_"), name
        otel = {name: value for name, value in environment.items() if name.startswith("OTEL_")}
        assert trace_export(otel).value == "otlp"


def test_the_apps_run_what_the_image_runs_and_drain_within_their_stop_grace() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    image_command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE).group(1))  # type: ignore[union-attr]
    defaults = Settings(_env_file=None).lifecycle  # type: ignore[call-arg]
    for app in APPS:
        service = SERVICES[app]
        assert service["command"] == image_command
        assert service["user"] == re.search(r"^USER (\S+)$", dockerfile, re.MULTILINE).group(1)  # type: ignore[union-attr]
        assert service["read_only"] is True
        grace_s = int(service["stop_grace_period"].removesuffix("s"))
        assert grace_s > defaults.drain_delay_s + defaults.shutdown_grace_s


def test_ports_line_up_between_the_services_and_their_configs() -> None:
    app_port = re.search(r"PIXELPET_PORT=(\d+)", (ROOT / "Dockerfile").read_text()).group(1)  # type: ignore[union-attr]
    targets = ROOT / "deploy" / "compose" / "prometheus-targets"
    (scrape,) = json.loads((targets / "pixelpet.json").read_text())
    assert scrape["targets"] == [f"{app}:{app_port}" for app in APPS]
    nginx = (ROOT / "deploy" / "compose" / "nginx.conf").read_text()
    assert re.findall(r"server (\S+) max_fails", nginx) == [f"{app}:{app_port}" for app in APPS]
    listen = re.search(r"listen (\d+);", nginx).group(1)  # type: ignore[union-attr]
    assert SERVICES["lb"]["ports"] == [f"127.0.0.1:8000:{listen}"]

    collector = (ROOT / "observability" / "collector" / "config.yaml").read_text()
    # The app exports to the Collector's OTLP/HTTP receiver; the Collector to Jaeger's OTLP/gRPC one.
    http_port = re.search(r"OTLP_HTTP_ENDPOINT:-0\.0\.0\.0:(\d+)", collector).group(1)  # type: ignore[union-attr]
    assert (
        SERVICES["app-1"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
        == f"http://otel-collector:{http_port}"
    )
    jaeger = (ROOT / "observability" / "jaeger" / "config.yaml").read_text()
    jaeger_grpc = re.search(r"JAEGER_OTLP_GRPC_ENDPOINT:-0\.0\.0\.0:(\d+)", jaeger).group(1)  # type: ignore[union-attr]
    assert f"JAEGER_OTLP_ENDPOINT:-jaeger:{jaeger_grpc}" in collector
    for job, port_key in (("spanmetrics", "SPANMETRICS_ENDPOINT:-0.0.0.0:"), ("otel-collector", "PORT:-")):
        (target,) = json.loads((targets / f"{job}.json").read_text())[0]["targets"]
        assert target.startswith("otel-collector:")
        assert f"{port_key}{target.split(':')[1]}" in collector, job

    # Grafana's datasources are the compose services.
    provisioning = ROOT / "observability" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
    urls = {
        source["type"]: source["url"] for source in yaml.safe_load(provisioning.read_text())["datasources"]
    }
    assert urls == {"prometheus": "http://prometheus:9090", "jaeger": "http://jaeger:16686"}
    assert "127.0.0.1:9090:9090" in SERVICES["prometheus"]["ports"]
    assert "127.0.0.1:16686:16686" in SERVICES["jaeger"]["ports"]


def test_no_secret_is_written_in_compose_yaml() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "${PIXELPET_DEV_SECRET:?" in text
    assert "${GRAFANA_ADMIN_PASSWORD:?" in text
    example = (ROOT / ".env.example").read_text()
    assert "PIXELPET_DEV_SECRET=" in example
    assert "GRAFANA_ADMIN_PASSWORD=" in example


def _is_setting(path: list[str], model: type[BaseModel] = Settings) -> bool:
    name, *rest = path
    field = model.model_fields.get(name)
    if field is None:
        return False
    if not rest:
        return True
    annotation = field.annotation
    return (
        isinstance(annotation, type) and issubclass(annotation, BaseModel) and _is_setting(rest, annotation)
    )


async def test_the_load_balancer_spreads_graphql_and_carries_subscriptions(
    database: Any, tmp_path: Path
) -> None:
    """compose's nginx.conf, run by a real nginx in front of two real service processes (the compose service
    names pointed at them): queries reach both replicas, and a graphql-transport-ws subscription works."""
    shared = unique_database()  # two replicas of one service: one database
    services = [
        ServiceProcess(
            env={"PIXELPET_MONGODB_URI": database.uri, "PIXELPET_MONGO__DATABASE": shared},
            log_file=tmp_path / f"app-{index}.log",
        )
        for index in range(2)
    ]
    config = (ROOT / "deploy" / "compose" / "nginx.conf").read_text()
    for app, service in zip(APPS, services, strict=True):
        config = config.replace(f"server {app}:8000", f"server 127.0.0.1:{service.port}")
    port = free_port()
    config = config.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    (tmp_path / "nginx.conf").write_text(config)
    settings = f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"
    nginx = subprocess.Popen(  # noqa: ASYNC220 - nothing else runs on this loop while nginx starts
        ["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", settings],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        for service in services:
            service.start()
        base = f"http://127.0.0.1:{port}"
        assert wait_until_ready(base, timeout_s=30), (tmp_path / "error.log").read_text()
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            client = GraphQLClient(http)
            pet = await create_pet(client, name="Balanced")
            for _ in range(6):
                assert (await client.execute("{ pets { edges { node { id } } } }")).status == 200
            watcher = await (await SubscriptionClient.connect(base)).acknowledged()
            await watcher.subscribe(pet["id"])
            assert (await watcher.next_pet())["name"] == "Balanced"
            rename = "mutation($id: ID!, $name: String!) { renamePet(id: $id, name: $name) { id } }"
            await client.execute(rename, {"id": pet["id"], "name": "Moved"})
            assert (await watcher.next_pet())["name"] == "Moved"
            await watcher.connection.close()
        served = [sum('"graphql request"' in line for line in service.log_lines()) for service in services]
        assert all(count > 0 for count in served), f"requests per replica: {served}"
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        for service in services:
            service.stop()


def test_alertmanager_in_compose_routes_as_the_source_and_sends_nowhere_it_cannot_reach() -> None:
    """Inside its container 127.0.0.1 is Alertmanager itself: the source's webhook receivers would fail every
    notification. compose mounts the same routes and inhibitions with receivers that do not send."""
    mounts = [volume.split(":") for volume in SERVICES["alertmanager"]["volumes"]]
    (source,) = [host for host, target, *_ in mounts if target == "/etc/alertmanager/alertmanager.yml"]
    mounted = yaml.safe_load((ROOT / source).read_text())
    original = yaml.safe_load((ROOT / "observability" / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in original["receivers"]:
        receiver.pop("webhook_configs", None)
    assert mounted == original
    assert "url" not in str(mounted["receivers"])


def test_the_prober_runs_in_compose_through_the_load_balancer_and_is_scraped() -> None:
    probe = SERVICES["probe"]
    command = probe["command"]
    assert command[0] == "probe"
    assert command[command.index("--url") + 1] == "http://lb:8080"
    port = command[command.index("--serve") + 1]
    targets = ROOT / "deploy" / "compose" / "prometheus-targets"
    (scrape,) = json.loads((targets / "pixelpet-probe.json").read_text())
    assert scrape["targets"] == [f"probe:{port}"]
    for name in probe["environment"]:
        assert _is_setting(name.removeprefix("PIXELPET_").lower().split("__")), name
    assert probe["read_only"] is True
    assert probe["depends_on"] == {"lb": {"condition": "service_healthy"}}
