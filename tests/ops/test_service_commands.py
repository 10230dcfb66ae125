"""`pixelpet drain | undrain | chaos | probe | loadgen` against a running service; every command's help."""

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pixelpet.cli import build, main
from pixelpet.devdb import free_port
from tests.ops.conftest import Ops
from tests.support.graphql import token_for
from tests.support.service import clean_environment

PET = "query($id: ID!) { pet(id: $id) { name } }"


def readiness(ops: Ops) -> tuple[int, dict[str, str]]:
    response = httpx.get(f"{ops.service.url}/readyz", timeout=5)
    return response.status_code, response.json()["checks"]


def test_drain_takes_the_instance_out_of_rotation_and_undrain_puts_it_back(ops: Ops) -> None:
    url = ops.service.url
    drained = ops.run("drain", "--url", url)
    assert drained.returncode == 0, drained.stderr
    assert "drained" in drained.stdout
    status, checks = readiness(ops)
    assert status == 503
    assert checks["maintenance"].startswith("failing: drained by an operator")
    pet = ops.create_pet("drained-player")  # still serving what reaches it
    assert pet
    code, body = ops.run_json("undrain", "--url", url)
    assert (code, body) == (0, {"drained": False, "shutting_down": False})
    assert readiness(ops)[0] == 200


def test_drain_needs_the_admin_token(ops: Ops) -> None:
    url = ops.service.url
    wrong = ops.run("drain", "--url", url, PIXELPET_ADMIN_TOKEN="a-guess-of-sufficient-length")
    assert wrong.returncode == 2
    assert "refused the admin token (401)" in wrong.stderr
    assert readiness(ops)[0] == 200
    unset = ops.run("drain", "--url", url, PIXELPET_ADMIN_TOKEN="")
    assert unset.returncode == 2
    assert "set PIXELPET_ADMIN_TOKEN" in unset.stderr
    short = ops.run("drain", "--url", url, PIXELPET_ADMIN_TOKEN="short")
    assert short.returncode == 2
    assert "PIXELPET_ADMIN_TOKEN: the admin token must be at least 16 characters" in short.stderr
    assert httpx.post(f"{url}/admin/drain", timeout=5).status_code == 401
    away = ops.run("drain", "--url", f"http://127.0.0.1:{free_port()}")
    assert away.returncode == 3
    assert "unreachable" in away.stderr


def test_chaos_arms_a_failpoint_the_service_feels_and_clears_it(ops: Ops) -> None:
    pet = ops.create_pet("chaos-player")
    ask = {"query": PET, "variables": {"id": pet}}
    headers = {"Authorization": f"Bearer {token_for('chaos-player')}"}
    armed = ops.run("chaos", "arm", "--mode", "error", "--commands", "find", "--error-code", "8000")
    assert armed.returncode == 0, armed.stderr
    assert "armed: error on find" in armed.stdout
    try:
        failed = httpx.post(f"{ops.service.url}/graphql", json=ask, headers=headers, timeout=10).json()
        assert failed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        code, _ = ops.run_json("db", "recount")  # the CLI's own connections are spared
        assert code == 0
    finally:
        cleared = ops.run("chaos", "clear")
    assert cleared.returncode == 0, cleared.stderr
    answered = httpx.post(f"{ops.service.url}/graphql", json=ask, headers=headers, timeout=10).json()
    assert answered == {"data": {"pet": {"name": "Mochi"}}}


def test_chaos_is_refused_outside_development(ops: Ops) -> None:
    production = {
        "PIXELPET_ENVIRONMENT": "production",
        "PIXELPET_AUTH__ALGORITHMS": '["RS256"]',
        "PIXELPET_AUTH__ISSUER": "https://id.example",
        "PIXELPET_AUTH__AUDIENCE": "pixelpet",
        "PIXELPET_AUTH__JWKS_URL": "https://id.example/jwks.json",
    }
    refused = ops.run("chaos", "arm", "--mode", "block", **production)
    assert refused.returncode == 2
    assert "chaos is for development and test databases only; this is production" in refused.stderr


def test_probe_walks_the_journey_and_reports_each_step(ops: Ops) -> None:
    code, journey = ops.run_json("probe", "--url", ops.service.url)
    assert code == 0, journey
    assert [step["step"] for step in journey["steps"]] == [
        "create",
        "subscribe",
        "feed",
        "see update",
        "delete",
    ]
    assert all(step["ok"] for step in journey["steps"])
    table = ops.run("probe", "--url", ops.service.url).stdout
    assert "see update" in table
    down = ops.run_json("probe", "--url", f"http://127.0.0.1:{free_port()}")
    assert down[0] == 1
    assert down[1]["steps"][0]["step"] == "create"
    assert not down[1]["steps"][0]["ok"]


def test_probe_serves_its_results_as_metrics(ops: Ops) -> None:
    port = free_port()
    prober = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pixelpet",
            "probe",
            "--url",
            ops.service.url,
            "--serve",
            str(port),
            "--interval",
            "1",
        ],
        env=clean_environment(**ops.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        samples = _scrape_until_probed(f"http://127.0.0.1:{port}/metrics", prober)
    finally:
        prober.terminate()
        prober.communicate(timeout=10)  # waits, and closes its stderr pipe
    assert samples["pixelpet_probe_success"] == 1
    assert samples["pixelpet_probe_journeys_total"] >= 1
    assert {"create", "subscribe", "feed", "see update", "delete"} <= samples.keys() - {"_"}


def _scrape_until_probed(url: str, prober: "subprocess.Popen[bytes]") -> dict[str, float]:
    """The exporter's metrics once a journey has finished (its step gauges appear then)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert prober.poll() is None, prober.stderr.read() if prober.stderr else ""
        try:
            text = httpx.get(url, timeout=2).text
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = sample.labels.get("step", sample.name)
                samples[key] = samples.get(key, 0) + sample.value
        if "pixelpet_probe_last_run_timestamp_seconds" in samples and samples.get("create") is not None:
            return samples
        time.sleep(0.2)
    raise AssertionError("the probe exporter never reported a journey")


def test_loadgen_drives_a_mix_and_summarises_it(ops: Ops) -> None:
    code, summary = ops.run_json(
        "loadgen",
        "--url",
        ops.service.url,
        "--rate",
        "20",
        "--duration",
        "3",
        "--players",
        "2",
        "--subscribers",
        "2",
    )
    assert code == 0, summary
    assert summary["requests"] == summary["answered"] > 0
    assert summary["outcomes"].get("OK", 0) > 0
    assert set(summary["operations"]) <= {"pet", "pets", "feedPet", "playWithPet", "renamePet"}
    assert {"p50", "p90", "p99"} == set(summary["latency_ms"])
    assert summary["subscription_updates"] >= 2, "each subscriber received at least its pet's first state"
    assert summary["subscription_errors"] == 0
    bounded = ops.run_json("loadgen", "--url", ops.service.url, "--max-requests", "7", "--duration", "30")[1]
    assert bounded["requests"] == 7
    table = ops.run("loadgen", "--url", ops.service.url, "--max-requests", "5").stdout
    assert "rate achieved" in table


def test_loadgen_refuses_a_remote_target_unless_told(ops: Ops) -> None:
    refused = ops.run("loadgen", "--url", "http://pets.example:8000")
    assert refused.returncode == 2
    assert "--allow-remote" in refused.stderr


def _commands() -> list[list[str]]:
    app = build()
    names = [[command.name or command.callback.__name__] for command in app.registered_commands]  # type: ignore[union-attr]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        names += [
            [group.name or "", command.name or command.callback.__name__]  # type: ignore[union-attr]
            for command in group.typer_instance.registered_commands
        ]
    return names


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one example per line, unwrapped
    assert main([*command, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "Example: pixelpet" in shown or "Example: PIXELPET_" in shown


def test_slo_says_in_one_line_when_prometheus_is_away() -> None:
    # Its tables, burn rates and pages are tested against a real Prometheus in tests/e2e.
    away = subprocess.run(
        [sys.executable, "-m", "pixelpet", "slo", "--prometheus-url", f"http://127.0.0.1:{free_port()}"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert away.returncode == 3
    assert away.stderr.startswith("pixelpet: Prometheus at http://127.0.0.1:")
    assert len(away.stderr.strip().splitlines()) == 1


def test_schema_and_healthcheck_answer_as_the_image_uses_them(ops: Ops, repo_root: Path) -> None:
    printed = ops.run("schema")
    assert printed.returncode == 0
    assert printed.stdout == (repo_root / "schema.graphql").read_text()
    ready = ops.run("healthcheck", PIXELPET_PORT=str(ops.service.port))
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.startswith("ready: ")
    nobody = ops.run("healthcheck", PIXELPET_PORT=str(free_port()))
    assert nobody.returncode == 1
    assert "not answering" in nobody.stderr
