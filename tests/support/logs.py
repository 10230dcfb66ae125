"""Capture what the service logs, formatted exactly as production formats it (JSON lines)."""

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

from pixelpet.telemetry.logging import JsonFormatter


class JsonLines(io.StringIO):
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines()]


@contextlib.contextmanager
def captured_json_logs() -> Iterator[JsonLines]:
    stream = JsonLines()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
