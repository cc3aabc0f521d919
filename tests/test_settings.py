"""Configuration: YAML plus environment overrides, errors that name the bad key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from laneway.settings import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "laneway.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )


def test_example_config_is_valid() -> None:
    settings = load_settings(REPO / "laneway.example.yaml")
    assert {b.name for b in settings.lanes["fast-path"].backends}
    assert settings.lanes["high-compute"].fallback == ["general"]


def test_yaml_then_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"redis_url": "redis://from-file:1/0", "api": {"port": 9001}}))
    assert load_settings(path).api.port == 9001
    monkeypatch.setenv("LANEWAY_API__PORT", "9002")
    monkeypatch.setenv("LANEWAY_REDIS_URL", "redis://from-env:2/0")
    settings = load_settings(path)
    assert settings.api.port == 9002
    assert settings.redis_url == "redis://from-env:2/0"
    # lanes the file leaves out keep their defaults
    assert set(settings.lanes) == {"fast-path", "general", "high-compute"}


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (
            {
                "lanes": {
                    "fast-path": {"backends": [{"name": "a", "base_url": "ftp://x", "model": "m"}]}
                }
            },
            "lanes.fast-path.backends.0.base_url",
        ),
        ({"lanes": {"turbo": {}}}, "lanes.turbo"),
        ({"api": {"prot": 1}}, "api.prot"),
        ({"worker": {"task_time_limit": 100, "visibility_timeout": 50}}, "worker"),
        ({"worker": {"heartbeat_interval_seconds": 5, "dead_after_seconds": 8}}, "worker"),
        ({"worker": {"heartbeat_interval_seconds": 30}}, "worker.heartbeat_interval_seconds"),
        (
            {
                "lanes": {
                    "general": {
                        "backends": [
                            {"name": "x", "base_url": "http://a/v1", "model": "m"},
                            {"name": "x", "base_url": "http://b/v1", "model": "m"},
                        ]
                    }
                }
            },
            "lanes",
        ),
    ],
)
def test_errors_name_the_bad_key(tmp_path: Path, config: dict[str, object], named: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert named in str(caught.value)


def test_config_check_prints_the_effective_configuration(tmp_path: Path) -> None:
    result = run_cli("config", "check", str(REPO / "laneway.example.yaml"))
    assert result.returncode == 0, result.stderr
    effective = yaml.safe_load(result.stdout)
    assert effective["lanes"]["general"]["backends"][0]["name"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("api:\n  port: -5\n")
    result = run_cli("config", "check", str(bad))
    assert result.returncode == 2
    assert "api.port" in result.stderr


def test_backend_api_keys_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "lanes": {
                    "general": {
                        "backends": [
                            {
                                "name": "hosted",
                                "base_url": "https://api.example/v1",
                                "model": "m",
                                "api_key_env": "HOSTED_KEY",
                            }
                        ]
                    }
                }
            }
        )
    )
    monkeypatch.setenv("HOSTED_KEY", "sk-secret")
    backend = load_settings(path).lanes["general"].backends[0]
    assert backend.api_key() == "sk-secret"
    assert "sk-secret" not in repr(backend) and "sk-secret" not in backend.model_dump_json()
