"""Static checks of the deployment files: docker-compose.yml, the Dockerfile, the
Kubernetes manifests and the Prometheus config (no Docker or cluster needed)."""

from __future__ import annotations

import importlib.resources
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject
from kombu.transport.redis import Channel

from laneway.lanes import LANES, queue_for
from laneway.settings import Settings, load_settings
from laneway.sim.profiles import PROFILES
from laneway.wire import _LOW_STEP

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_CONFIG = ROOT / "deploy" / "laneway.compose.yaml"
K8S = ROOT / "deploy" / "k8s"
ROLES = ("classify", *LANES)
LANEWAY_COMMANDS = {"api", "worker", "sim-backend"}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def option(argv: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``argv``."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def argv_of(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def seconds(value: str | int) -> float:
    """A Compose duration ("340s", "5m", "1m30s") in seconds."""
    if isinstance(value, int):
        return value
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value)
    assert parts, value
    return sum(float(n) * units[u] for n, u in parts)


def check_laneway_command(argv: list[str], where: str) -> str:
    """Assert a laneway command line names a real subcommand and a valid lane/role."""
    assert argv[0] == "laneway", where
    assert argv[1] in LANEWAY_COMMANDS, f"{where}: unknown command {argv[1]}"
    if argv[1] == "worker":
        role = option(argv, "--lane")
        assert role in ROLES, f"{where}: --lane {role} is not one of {ROLES}"
        return role
    if argv[1] == "sim-backend":
        assert option(argv, "--profile") in PROFILES, where
        assert "--insecure" in argv, f"{where}: sims bind 0.0.0.0 and need --insecure"
    return argv[1]


# -- docker-compose.yml ---------------------------------------------------------------


def compose_schema_errors(document: dict[str, Any]) -> list[str]:
    """Errors of ``document`` against the Compose Specification's JSON schema, as
    vendored (with its licence and checksum) by the check-jsonschema package."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)
    errors = validator(schema, format_checker=validator.FORMAT_CHECKER).iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_compose_file_matches_the_compose_spec() -> None:
    assert compose_schema_errors(compose()) == []
    # the schema is strict enough to catch a misspelt key
    broken = compose()
    broken["services"]["redis"]["healthchek"] = broken["services"]["redis"].pop("healthcheck")
    assert compose_schema_errors(broken)


def test_compose_runs_every_part_of_the_system() -> None:
    services = compose()["services"]
    wanted = {"redis", "api", "classifier", "flower", "prometheus", "grafana"}
    wanted |= {f"worker-{lane}" for lane in LANES} | {"sim-small", "sim-medium", "sim-large"}
    assert wanted <= set(services)
    # Prometheus and Grafana publish on the host's loopback only: Grafana's admin
    # password is required, Prometheus has no auth of its own.
    for name in ("prometheus", "grafana"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), name
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GRAFANA_ADMIN_PASSWORD:?")
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    secrets = {f"/run/secrets/{name}" for name in services["prometheus"]["secrets"]}
    for job in scrape["scrape_configs"]:
        auth = job.get("authorization", {}).get("credentials_file") or job.get(
            "basic_auth", {}
        ).get("password_file")
        assert auth in secrets, job["job_name"]
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for name, secret in compose()["secrets"].items():
        assert secret["file"].removeprefix("./") in ignored, name


def test_compose_redis_is_durable() -> None:
    redis = compose()["services"]["redis"]
    assert str(redis["image"]).startswith("redis:7")
    argv = argv_of(redis["command"])
    assert option(argv, "--appendonly") == "yes"
    assert option(argv, "--appendfsync") == "everysec"
    assert option(argv, "--maxmemory-policy") == "noeviction"
    assert any(str(v).endswith(":/data") for v in redis["volumes"])
    assert redis["volumes"][0].split(":")[0] in compose()["volumes"]


def test_compose_services_run_valid_roles() -> None:
    services = compose()["services"]
    roles: dict[str, str] = {}
    for name, service in services.items():
        if name in ("redis", "flower", "prometheus", "grafana"):
            continue
        roles[name] = check_laneway_command(argv_of(service["command"]), name)
    assert roles["api"] == "api"
    assert roles["classifier"] == "classify"
    for lane in LANES:
        assert roles[f"worker-{lane}"] == lane
        assert services[f"worker-{lane}"]["deploy"]["replicas"] >= 1
    assert sorted(n for n, r in roles.items() if r == "sim-backend") == [
        "sim-large",
        "sim-medium",
        "sim-small",
    ]


def test_compose_api_needs_keys_and_flower_needs_auth() -> None:
    services = compose()["services"]
    api = argv_of(services["api"]["command"])
    assert option(api, "--host") == "0.0.0.0"
    assert services["api"]["environment"]["LANEWAY_API_KEYS"].startswith("${LANEWAY_API_KEYS:?")
    flower = argv_of(services["flower"]["command"])
    assert flower[:3] == ["celery", "--broker", "redis://redis:6379/0"] and "flower" in flower
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"].startswith(
        "${FLOWER_BASIC_AUTH:?"
    )


def test_compose_config_is_mounted_and_matches_the_services() -> None:
    services = compose()["services"]
    settings = load_settings(COMPOSE_CONFIG)
    assert settings.redis_url == "redis://redis:6379/0"
    for name, service in services.items():
        if argv_of(service.get("command", ["-"]))[0] != "laneway" or name.startswith("sim-"):
            continue
        mounts = [str(v).split(":") for v in service["volumes"]]
        wanted = ["./deploy/laneway.compose.yaml", service["environment"]["LANEWAY_CONFIG"], "ro"]
        assert wanted in mounts, name
        if name != "api":
            grace = seconds(service["stop_grace_period"])
            assert grace > settings.worker.task_time_limit, name
    sim_ports = {
        name: option(argv_of(s["command"]), "--port")
        for name, s in services.items()
        if name.startswith("sim-")
    }
    for lane in settings.lanes.values():
        for backend in lane.backends:
            host, port = re.match(r"http://([^:/]+):(\d+)/v1$", backend.base_url).groups()  # type: ignore[union-attr]
            assert sim_ports.get(host) == port, backend.base_url


def test_laneway_config_check_accepts_the_compose_config() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "laneway.cli", "config", "check", str(COMPOSE_CONFIG)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "redis://redis:6379/0" in result.stdout


# -- Dockerfile ----------------------------------------------------------------------


def test_dockerfile_installs_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    assert "FROM python:3.11-slim" in lines
    assert any(line.startswith("ARG EXTRAS=") for line in lines)
    assert "pip install ." in text and '".[$EXTRAS]"' in text
    copied: set[str] = set()
    for line in lines:
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repo"
                copied.add(source)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [p.rstrip("*") for p in found]
    for needed in ["pyproject.toml", pyproject["project"]["readme"], *packages]:
        assert needed in copied, f"the image lacks {needed}"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert not ignored & copied, "the .dockerignore drops files the Dockerfile copies"


# -- Kubernetes ----------------------------------------------------------------------


def k8s_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        objects += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return objects


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == kind}


def test_k8s_manifests_match_the_kubernetes_schemas() -> None:
    """Every built-in object against the strict (no unknown keys) schemas that the
    kubernetes-validate package ships for its newest Kubernetes version."""
    version = kubernetes_validate.latest_version()
    checked = 0
    for obj in k8s_objects():
        if obj["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked >= len(by_kind("Deployment")) + len(by_kind("Service"))
    broken = next(iter(by_kind("Deployment").values()))
    broken["spec"]["template"]["spec"]["terminationGracePeriod"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def keda_round_trip(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` parsed by the ScaledObject model that cloudcoil-models-keda generates from
    KEDA's CRD, and dumped again: a key the CRD does not know is dropped on the way."""
    model = ScaledObject.model_validate(obj)
    dumped: dict[str, Any] = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return dumped


def test_keda_scaled_objects_match_kedas_crd() -> None:
    scaled = by_kind("ScaledObject")
    assert scaled
    for name, obj in scaled.items():
        assert obj["apiVersion"] == "keda.sh/v1alpha1", name
        assert keda_round_trip(obj) == obj, name
    broken = next(iter(scaled.values()))
    broken["spec"]["minReplicas"] = broken["spec"].pop("minReplicaCount")
    assert keda_round_trip(broken) != broken
    broken["spec"]["minReplicaCount"] = "one"
    with pytest.raises(ValueError, match="minReplicaCount"):
        ScaledObject.model_validate(broken)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


@pytest.fixture(scope="module")
def k8s_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    config = by_kind("ConfigMap")["laneway-config"]["data"]["laneway.yaml"]
    path = tmp_path_factory.mktemp("k8s") / "laneway.yaml"
    path.write_text(config)
    return load_settings(path)


def test_k8s_deployments_run_every_role(k8s_settings: Settings) -> None:
    deployments = by_kind("Deployment")
    roles = {}
    for name, deployment in deployments.items():
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        role = check_laneway_command(argv_of(container["command"]), name)
        roles[role] = name
        env = {e["name"]: e for e in container.get("env", [])}
        mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
        assert env["LANEWAY_CONFIG"]["value"] == mount["mountPath"] + "/laneway.yaml"
        assert deployment["spec"]["selector"]["matchLabels"].items() <= (
            deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        if role in LANES:
            grace = spec["terminationGracePeriodSeconds"]
            assert grace > k8s_settings.worker.task_time_limit, name
        if role == "api":
            assert option(container["command"], "--host") == "0.0.0.0"
            assert env["LANEWAY_API_KEYS"]["valueFrom"]["secretKeyRef"]
    assert set(roles) == {"api", *ROLES}
    services = by_kind("Service")
    api_labels = deployments[roles["api"]]["spec"]["template"]["metadata"]["labels"]
    assert any(s["spec"]["selector"].items() <= api_labels.items() for s in services.values())


def test_keda_scales_every_lane_on_its_lists() -> None:
    deployments = by_kind("Deployment")
    scaled = by_kind("ScaledObject")
    lanes_seen = set()
    for name, obj in scaled.items():
        target = deployments[obj["spec"]["scaleTargetRef"]["name"]]
        container = target["spec"]["template"]["spec"]["containers"][0]
        lane = option(container["command"], "--lane")
        assert lane in LANES, name
        lanes_seen.add(lane)
        lists = {t["metadata"]["listName"] for t in obj["spec"]["triggers"] if t["type"] == "redis"}
        queue = queue_for(lane)
        assert lists == {queue, f"{queue}{Channel.sep}{_LOW_STEP}"}, name
        assert obj["spec"]["minReplicaCount"] >= 1
    assert lanes_seen == set(LANES)


def test_prometheus_scrapes_the_api_and_flower() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: (job.get("metrics_path", "/metrics"), job["static_configs"][0]["targets"])
        for job in config["scrape_configs"]
    }
    assert targets["laneway-api"] == ("/metrics", ["api:8000"])
    assert targets["flower"] == ("/metrics", ["flower:5555"])
