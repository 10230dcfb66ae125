"""bench/ab.py measures each side's own code: a side is started in its checkout, and refuses to start if its
interpreter would import another checkout's pixelpet (until session 8 both sides ran the head's)."""

from pathlib import Path

import pytest

from bench.ab import HERE, Side, _imported_from


def test_a_side_imports_the_package_of_its_own_checkout() -> None:
    assert _imported_from(HERE) == HERE.resolve()


def test_a_side_whose_interpreter_would_import_other_code_refuses_to_start(tmp_path: Path) -> None:
    # A checkout without a pixelpet package of its own, using this one's environment: its interpreter
    # imports this checkout's package (installed editable), which is not the side's code.
    (tmp_path / ".venv").symlink_to(HERE / ".venv")
    side = Side("base", tmp_path, {}, tmp_path)
    with pytest.raises(RuntimeError, match="would run the code in"):
        side.start()
    assert side.cwd == tmp_path
