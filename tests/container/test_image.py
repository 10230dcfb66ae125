"""The image, built and run by a real container engine (Podman; Docker users run the same Dockerfile).

No image registry can be reached here, so the base is a Debian bookworm root filesystem built with
mmdebstrap and imported once (cached in ~/.cache/pixelpet/images), passed as the Dockerfile's BASE.
"""

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelpet.devdb import DevDatabase, free_port
from tests.conftest import unique_database
from tests.support.graphql import token_for
from tests.support.service import venv_tool, wait_until_ready

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE_TAR = Path.home() / ".cache" / "pixelpet" / "images" / "base-bookworm.tar"
BASE_IMAGE = "localhost/pixelpet-base:bookworm"
IMAGE = "localhost/pixelpet:test"
# This machine's Podman: crun fails on its hybrid cgroups, and the default rlimits are refused.
ENGINE = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
GRACE_S = 15  # the stop timeout compose and the chart give it: drain delay 3 s + in-flight grace 5 s + margin


def podman(*args: str, timeout_s: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ENGINE, *args], capture_output=True, text=True, timeout=timeout_s, check=check)


@pytest.fixture(scope="module")
def image() -> dict[str, Any]:
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0:
        if not BASE_TAR.exists():
            BASE_TAR.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    "mmdebstrap",
                    "--variant=minbase",
                    "--include=python3,python3-venv,python-is-python3,ca-certificates",
                    "bookworm",
                    str(BASE_TAR),
                ],
                check=True,
                capture_output=True,
                timeout=600,
            )
        podman("import", str(BASE_TAR), BASE_IMAGE)
    podman(
        "build",
        "--format", "docker",  # keeps HEALTHCHECK (the OCI format drops it)
        *LIMITS,
        "--network", "host",
        "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",  # this machine's CA bundle, for the package index
        "--build-arg", f"BASE={BASE_IMAGE}",
        "-t", IMAGE,
        str(ROOT),
        timeout_s=900,
    )  # fmt: skip
    (inspected,) = json.loads(podman("image", "inspect", IMAGE).stdout)
    result: dict[str, Any] = inspected
    return result


@pytest.fixture
def container(image: dict[str, Any], database: DevDatabase) -> Iterator[tuple[str, int]]:
    name = f"pixelpet-test-{secrets.token_hex(4)}"
    port = free_port()
    podman(
        "run", "--detach", "--name", name, *LIMITS,
        "--read-only",  # nothing in the image may need to write
        "--network", "host",  # SecantusDB listens on this machine's loopback
        "-e", "PIXELPET_ENVIRONMENT=development",  # the image defaults to production; dev tokens need this
        "-e", f"PIXELPET_PORT={port}",
        "-e", f"PIXELPET_MONGODB_URI={database.uri}",
        "-e", f"PIXELPET_MONGO__DATABASE={unique_database()}",
        IMAGE,
    )  # fmt: skip
    try:
        yield name, port
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def test_the_image_runs_as_a_numeric_non_root_user_with_a_healthcheck_and_labels(
    image: dict[str, Any],
) -> None:
    config = image["Config"]
    assert config["User"] == "10001:10001"
    assert image["Healthcheck"]["Test"] == ["CMD", "pixelpet", "healthcheck"]
    assert config["StopSignal"] == "SIGTERM"
    assert config["Entrypoint"] == ["pixelpet"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "pixelpet"
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_the_image_holds_no_development_dependency_compiler_or_cache(image: dict[str, Any]) -> None:
    runtime = _locked_packages(dev=False)
    dev_only = _locked_packages(dev=True) - runtime
    assert {"pytest", "mypy", "ruff", "secantusdb", "hypothesis"} <= dev_only
    # As root, so that nothing (root's cache, say) is hidden from the look.
    inventory = ("run", "--rm", *LIMITS, "--user", "0", "--entrypoint", "python", IMAGE, "-c", _INVENTORY)
    listing = podman(*inventory).stdout.splitlines()
    installed = {_normalise(name) for name in listing if ":" not in name}
    assert not installed & dev_only, f"development packages in the image: {sorted(installed & dev_only)}"
    assert "pixelpet" in installed
    assert "compiler: None" in listing
    assert "caches: []" in listing


def test_the_container_serves_read_only_reports_healthy_logs_json_and_drains_on_sigterm(
    container: tuple[str, int],
) -> None:
    name, port = container
    assert wait_until_ready(f"http://127.0.0.1:{port}", timeout_s=60), podman("logs", name).stdout
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": 'mutation { createPet(input: {name: "Boxed", species: CAT}) { id name } }'},
        headers={"Authorization": f"Bearer {token_for('container')}"},
        timeout=10,
    )
    assert response.json()["data"]["createPet"]["name"] == "Boxed"

    health = podman("healthcheck", "run", name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr

    stopped = podman("stop", "--time", str(GRACE_S), name, timeout_s=GRACE_S + 30)
    assert stopped.returncode == 0
    (state,) = json.loads(podman("inspect", name).stdout)
    # 0: it exited by itself after draining; 137 would be the engine's SIGKILL when the grace ran out.
    assert state["State"]["ExitCode"] == 0, podman("logs", name).stdout
    lines = [json.loads(line) for line in podman("logs", name).stdout.splitlines() if line.startswith("{")]
    messages = [line["msg"] for line in lines]
    assert "pixelpet ready" in messages
    assert any(message.startswith("draining") for message in messages)
    assert any(message.startswith("pixelpet stopping") for message in messages)
    assert all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines)


# What the image holds, printed from inside it: installed distributions, a compiler, build leftovers.
_INVENTORY = """
import importlib.metadata, pathlib, shutil
print("\\n".join(sorted({d.metadata["Name"].lower() for d in importlib.metadata.distributions()})))
print("compiler:", shutil.which("gcc") or shutil.which("cc"))
print("caches:", [p for p in ("/root/.cache", "/opt/uv", "/src") if pathlib.Path(p).exists()])
"""


def _locked_packages(*, dev: bool) -> set[str]:
    exported = subprocess.run(
        [
            os.environ.get("UV", "uv"),
            "export",
            "--frozen",
            "--no-hashes",
            "--no-emit-project",
            *([] if dev else ["--no-dev"]),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return {_normalise(line.split("==")[0]) for line in exported.splitlines() if "==" in line}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    linted = subprocess.run(
        [venv_tool("hadolint"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (linted.returncode, linted.stdout) == (0, ""), linted.stdout + linted.stderr
