"""The embedded development database: a SecantusDB server in a child process.

SecantusDB speaks the MongoDB wire protocol and runs as a single-node replica set, so the service
uses exactly the code path it uses against MongoDB. It runs as its own process (never imported):
our event loop and GIL stay ours, and its GPL-2.0 code stays out of what we ship. It is a
development dependency and is not in the production image.
"""

import asyncio
import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

logger = logging.getLogger(__name__)

EXECUTABLE = "secantusd-py"
REPLICA_SET = "secantus"


class DevDatabaseError(RuntimeError):
    """The development database could not be started."""


def find_executable() -> str:
    beside_python = Path(sys.executable).with_name(EXECUTABLE)
    found = str(beside_python) if beside_python.exists() else shutil.which(EXECUTABLE)
    if found is None:
        raise DevDatabaseError(
            f"no PIXELPET_MONGODB_URI is set and {EXECUTABLE} is not installed; "
            "run `uv sync` (the dev group brings SecantusDB) or point PIXELPET_MONGODB_URI at MongoDB"
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DevDatabase:
    """Starts, waits for and stops one SecantusDB server on loopback."""

    def __init__(
        self, *, storage: str | Path, port: int, test_commands: bool = False, log_file: Path | None = None
    ) -> None:
        self.storage = storage
        self.port = port
        self._test_commands = test_commands
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet={REPLICA_SET}"

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Start the server and block until it answers a ping (call from a thread in async code)."""
        if _port_is_open(self.port):
            raise DevDatabaseError(f"port {self.port} is already in use; set PIXELPET_DEVDB__PORT")
        if str(self.storage) != ":memory:":
            Path(self.storage).mkdir(parents=True, exist_ok=True)
        command = [
            find_executable(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.storage),
            "--log-level",
            "WARNING",
        ]
        if self._test_commands:
            command.append("--enable-test-commands")
        if self._log_file is None:
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        else:
            with open(self._log_file, "ab") as output:  # the child keeps its own copy of the descriptor
                self._process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DevDatabaseError(f"{EXECUTABLE} exited with code {self._process.returncode}")
            if _port_is_open(self.port) and _answers_ping(self.uri):
                return
            time.sleep(0.1)
        self.stop()
        raise DevDatabaseError(f"{EXECUTABLE} did not answer within {timeout_s:.0f} s")

    def stop(self, *, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop at once, as a crash or an OOM kill would (SIGKILL): nothing is flushed (durability tests)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    async def start_async(self, *, timeout_s: float = 30.0) -> None:
        await asyncio.to_thread(self.start, timeout_s=timeout_s)

    async def stop_async(self) -> None:
        await asyncio.to_thread(self.stop)


def _port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _answers_ping(uri: str) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()
