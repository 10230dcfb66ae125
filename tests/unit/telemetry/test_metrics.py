"""The memory limit the PixelpetMemoryNearLimit alert compares against, read from the cgroup."""

from pathlib import Path

from pixelpet.telemetry.metrics import cgroup_memory_limit


def test_a_cgroup_v2_limit_is_read(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("536870912\n")
    assert cgroup_memory_limit((tmp_path / "memory.max",)) == 512 * 1024 * 1024


def test_no_limit_in_cgroup_v2_is_none(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("max\n")
    assert cgroup_memory_limit((tmp_path / "memory.max", tmp_path / "v1")) is None


def test_cgroup_v1_reports_no_limit_as_a_huge_number(tmp_path: Path) -> None:
    (tmp_path / "v1").write_text("9223372036854771712\n")
    assert cgroup_memory_limit((tmp_path / "missing", tmp_path / "v1")) is None
    (tmp_path / "v1").write_text("1073741824\n")
    assert cgroup_memory_limit((tmp_path / "missing", tmp_path / "v1")) == 1024**3


def test_outside_any_cgroup_there_is_no_limit(tmp_path: Path) -> None:
    assert cgroup_memory_limit((tmp_path / "a", tmp_path / "b")) is None
