"""The README's quick start works as printed, on the embedded development database."""

import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pixelpet.devdb import free_port

pytestmark = pytest.mark.slow
README_PORT = "127.0.0.1:8000"


def bash_blocks(readme: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)


@pytest.fixture
def service_from_readme(repo_root: Path, tmp_path: Path) -> Iterator[str]:
    """`make run`, exactly as the README says, moved to free ports so it cannot collide with anything."""
    blocks = bash_blocks((repo_root / "README.md").read_text())
    assert blocks[0].strip() == "make run"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIXELPET_")}
    env |= {
        "PIXELPET_PORT": str(port),
        "PIXELPET_DEVDB__PORT": str(free_port()),
        "PIXELPET_DEVDB__DATA_DIR": str(tmp_path / "devdb"),
    }
    log = tmp_path / "run.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", blocks[0]],
            cwd=repo_root,
            env=env,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"http://{address}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert "DEVELOPMENT DATABASE" in log.read_text()
        yield address
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def run_block(block: str, address: str, repo_root: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + block.replace(README_PORT, address)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_readme_quick_start_and_subscription_work_as_printed(
    service_from_readme: str, repo_root: Path
) -> None:
    blocks = bash_blocks((repo_root / "README.md").read_text())
    curl = next(block for block in blocks if "createPet" in block)
    created = run_block(curl, service_from_readme, repo_root, timeout=60)
    assert created.returncode == 0, created.stderr
    pet = json.loads(created.stdout)["data"]["createPet"]
    assert (pet["name"], pet["mood"]) == ("Mochi", "ECSTATIC")

    watch = next(block for block in blocks if "petStats" in block)
    watcher = subprocess.Popen(
        ["bash", "-c", watch.replace(README_PORT, service_from_readme)],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout or ()], daemon=True)
    reader.start()
    try:
        first, second = (json.loads(lines.get(timeout=60)) for _ in range(2))
    finally:
        os.killpg(watcher.pid, 15)
        watcher.wait(timeout=10)
        reader.join(timeout=10)  # it ends at EOF, once the process is gone
        if watcher.stdout is not None:
            watcher.stdout.close()
    assert first["type"] == "connection_ack"
    assert second["payload"]["data"]["petStats"]["version"] == 1
