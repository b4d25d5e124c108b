"""The state directory and the secrets and settings files are trusted only when private; signing
keys that are examples or guessable are refused at start; nothing usable ships as an example."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core import settings as settings_module
from core.settings import InsecureSettingsError, Settings, check_private_file
from tests.stack import ROOT, STACK_SCRIPT, write_private

STACK_USER = "kol" if os.geteuid() == 0 else None


@pytest.fixture
def planted() -> Iterator[Path]:
    """A path in world-writable /var/tmp, as an attacker could create it before the stack."""
    path = Path("/var/tmp") / f"kol-planted-{uuid.uuid4().hex[:8]}"
    yield path
    if path.is_symlink():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _stack_up(stack_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(STACK_SCRIPT), "up"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "KOL_STACK_DIR": str(stack_dir)})


def _own(path: Path) -> None:
    if STACK_USER:
        shutil.chown(path, STACK_USER, STACK_USER)


def test_a_planted_state_directory_of_another_owner_is_refused(planted: Path) -> None:
    planted.mkdir(mode=0o700)
    os.chown(planted, 65534, 65534)  # nobody
    result = _stack_up(planted)
    assert result.returncode != 0
    assert "belongs to nobody" in result.stderr
    assert "someone else" in result.stderr
    assert list(planted.iterdir()) == []  # nothing written, nothing read


def test_a_state_directory_others_may_enter_is_refused(planted: Path) -> None:
    planted.mkdir()
    _own(planted)
    planted.chmod(0o755)
    result = _stack_up(planted)
    assert result.returncode != 0
    assert "has mode 755; it must be 700" in result.stderr
    assert list(planted.iterdir()) == []


def test_a_symlinked_state_directory_is_refused(planted: Path, tmp_path: Path) -> None:
    planted.symlink_to(tmp_path)
    result = _stack_up(planted)
    assert result.returncode != 0
    assert "symbolic link" in result.stderr


def test_a_readable_secrets_file_is_refused(planted: Path) -> None:
    planted.mkdir(mode=0o700)
    _own(planted)
    secrets_file = planted / "secrets.env"
    secrets_file.write_text(f"KOL_JWT_SECRET={secrets.token_hex(32)}\n")
    secrets_file.chmod(0o644)
    result = _stack_up(planted)
    assert result.returncode != 0
    assert "secrets.env has mode 644" in result.stderr
    assert not (planted / "kol.env").exists()


def test_a_secrets_file_is_data_not_a_script(planted: Path) -> None:
    planted.mkdir(mode=0o700)
    _own(planted)
    marker = planted / "ran"
    write_private(planted / "secrets.env", f"KOL_JWT_SECRET=$(touch {marker})\n")
    result = _stack_up(planted)
    assert result.returncode != 0
    assert "bad value for KOL_JWT_SECRET" in result.stderr
    assert not marker.exists()


def test_the_services_refuse_a_settings_file_others_may_read(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    env_file = tmp_path / "kol.env"
    write_private(env_file, "KOL_API_PORT=1\n")
    check_private_file(env_file)
    env_file.chmod(0o640)
    with pytest.raises(InsecureSettingsError, match="mode 0640"):
        check_private_file(env_file)
    env_file.chmod(0o600)
    os.chown(env_file, 65534, 65534)
    with pytest.raises(InsecureSettingsError, match="belongs to uid 65534"):
        check_private_file(env_file)
    # And through the services' own start: get_settings() reads the file the same way.
    monkeypatch.setenv("KOL_ENV_FILE", str(env_file))
    settings_module.get_settings.cache_clear()
    try:
        with pytest.raises(InsecureSettingsError):
            settings_module.get_settings()
    finally:
        settings_module.get_settings.cache_clear()


@pytest.mark.parametrize("value", [
    "change-me-to-at-least-32-random-characters",  # the old deploy/.env.example value
    "a" * 64,
    "abcdefghabcdefghabcdefghabcdefgh",
    "0123456789012345678901234567890123456789",
    "kolkolkolkolkolkolkolkolkolkolkolkolkol",
    "replace-with-a-long-random-string-please",
    "short",
])
def test_known_example_or_low_entropy_signing_keys_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="KOL_JWT_SECRET is refused"):
        Settings(jwt_secret=SecretStr(value))


def test_generated_signing_keys_are_accepted() -> None:
    for _ in range(50):
        Settings(jwt_secret=SecretStr(secrets.token_urlsafe(32)))
        Settings(jwt_secret=SecretStr(secrets.token_hex(32)))


def test_kol_api_refuses_to_start_with_the_example_key(settings: Settings) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kol-api")], capture_output=True, text=True,
        timeout=60,
        env={**os.environ, "KOL_JWT_SECRET": "change-me-to-at-least-32-random-characters"})
    assert result.returncode != 0
    assert "KOL_JWT_SECRET is refused" in result.stderr


def test_the_example_file_ships_no_usable_secret() -> None:
    lines = [line for line in (ROOT / "deploy" / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines
    assert all(line.endswith("=") for line in lines), lines
