"""The provisioned Grafana dashboard (deploy/grafana): its JSON and provisioning files
hang together, and every metric its queries use is exported by a running system."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from laneway.lanes import LANES
from tests.system import System, chat, wait_job

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "laneway.json"
METRIC = re.compile(r"\blaneway_[A-Za-z0-9_:]+")
# What each family type adds to its name in the exposition format.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": (),
}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def query_panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


# Grafana's variables, as the values Prometheus gets in their place
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s"}


def parsed(expr: str) -> promql_parser.Expr:
    """``expr`` parsed as PromQL (ValueError on a syntax error)."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return promql_parser.parse(expr)


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(parsed(expr), visit)
    return names


def queried_metrics() -> set[str]:
    return {m for p in query_panels() for t in p["targets"] for m in metric_names(t["expr"])}


def provisioned_datasource() -> dict[str, Any]:
    provisioning = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    (source,) = provisioning["datasources"]
    return dict(source)


def test_dashboard_structure() -> None:
    data = dashboard()
    assert data["uid"] and data["title"] and isinstance(data["schemaVersion"], int)
    panels = data["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] > 0, panel["title"]
    cells = [
        (p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy)
        for p in panels
        for dx in range(p["gridPos"]["w"])
        for dy in range(p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells)), "panels overlap"


def test_metric_names_come_from_parsed_queries() -> None:
    assert metric_names('sum by (le) (rate(laneway_a_bucket{x="1"}[$__rate_interval])) / 2') == {
        "laneway_a_bucket"
    }
    with pytest.raises(ValueError):
        parsed("sum by (lane (rate(laneway_a[5m]))")


def test_every_panel_queries_the_provisioned_datasource() -> None:
    source = provisioned_datasource()
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"  # the compose service's name
    for panel in query_panels():
        assert panel["targets"], f"{panel['title']}: no query"
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}
        for target in panel["targets"]:
            names = metric_names(target["expr"])  # parses as PromQL
            assert names and all(METRIC.fullmatch(n) for n in names), panel["title"]
            assert target.get("datasource", panel["datasource"]) == panel["datasource"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_quantiles_are_taken_over_bucket_rates_by_le() -> None:
    quantile = re.compile(r"histogram_quantile\(\s*0?\.\d+,\s*sum by \(([^)]*)\) \(rate\((\w+)\[")
    seen = 0
    for panel in query_panels():
        for target in panel["targets"]:
            if "histogram_quantile" not in target["expr"]:
                continue
            match = quantile.search(target["expr"])
            assert match, target["expr"]
            by, metric = match.groups()
            assert "le" in [s.strip() for s in by.split(",")], target["expr"]
            assert metric.endswith("_bucket"), target["expr"]
            seen += 1
    assert seen >= 8


def test_the_dashboard_covers_the_issue() -> None:
    """Queue depth and oldest age, throughput, p50/p99 latency and TTFT, errors and
    fallbacks, in-flight and breakers, cost and tokens."""
    wanted = {
        "laneway_queue_depth",
        "laneway_queue_oldest_age_seconds",
        "laneway_jobs_finished_total",
        "laneway_job_latency_seconds_bucket",
        "laneway_ttft_seconds_bucket",
        "laneway_fallbacks_total",
        "laneway_retries_total",
        "laneway_backend_in_flight",
        "laneway_backend_max_concurrency",
        "laneway_backend_breaker_open",
        "laneway_cost_total",
        "laneway_tokens_total",
    }
    assert wanted <= queried_metrics()


def test_provisioning_points_at_the_mounted_dashboards() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "laneway.yaml").read_text()
    )
    (entry,) = provider["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in grafana["volumes"]}
    assert mounts[entry["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{entry['options']['path']}/{DASHBOARD.name}"
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]


def exported_names(text: str) -> set[str]:
    """Every series name a scrape declares: sample names, and for families without
    samples yet the names their type gives them."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def test_every_dashboard_metric_is_exported_by_a_running_system(system: System) -> None:
    with system.client() as client:
        ids = [client.post("/v1/jobs", json=chat("hi", route=lane)).json()["id"] for lane in LANES]
        streamed = client.post("/v1/jobs", json=chat("hi", route="general", stream=True))
        ids.append(streamed.json()["id"])
        for job_id in ids:
            assert wait_job(client, job_id)["status"] == "succeeded"
    scrape = httpx.get(f"{system.api_url}/metrics", timeout=10)
    scrape.raise_for_status()
    missing = sorted(queried_metrics() - exported_names(scrape.text))
    assert not missing, f"the dashboard queries metrics /metrics does not export: {missing}"
