"""The tablet's Bluetooth parsers (tablet/ble.js) against byte vectors from the specifications,
run by node's own test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def test_ble_parsers_in_node() -> None:
    node = shutil.which("node")
    assert node, "node is installed by deploy/install.sh"
    result = subprocess.run([node, "--test", str(HERE / "ble.test.mjs")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
