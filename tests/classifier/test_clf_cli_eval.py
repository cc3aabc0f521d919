"""CLI (both forms, also mounted under a parent app) and the evaluation metrics."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from classifier.cli import app
from classifier.evaluate import Item, load_items, percentile, score
from classifier.strategies.base import Decision

runner = CliRunner()


def _devset(path: Path) -> Path:
    rows = [
        ("hello", "fast-path", "clinc/x"),
        ("write a python function to sort a list", "high-compute", "mbpp/y"),
        ("How can I sleep better at night?", "general", "vic/z"),
    ]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": str(i),
                    "request": {"messages": [{"role": "user", "content": t}]},
                    "label": label,
                    "source_category": cat,
                }
            )
            + "\n"
            for i, (t, label, cat) in enumerate(rows)
        )
    )
    return path


def test_cli_classifies_a_text() -> None:
    result = runner.invoke(app, ["hello there", "--strategy", "rules"])
    assert result.exit_code == 0, result.output
    assert "fast-path" in result.output
    result = runner.invoke(app, ["--strategy", "rules", "--max-tokens", "5000", "tell me"])
    assert result.exit_code == 0, result.output
    assert "high-compute" in result.output


def test_cli_json_output() -> None:
    result = runner.invoke(app, ["hi", "-s", "rules", "--json"])
    assert json.loads(result.output)["lane"] == "fast-path"


def test_cli_eval(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(_devset(tmp_path / "d.jsonl")), "-s", "rules"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "1.000" in result.output
    assert "confusion" in result.output


def test_cli_mounted_under_parent_app(tmp_path: Path) -> None:
    parent = typer.Typer()

    @parent.command()
    def version() -> None:
        typer.echo("0")

    parent.add_typer(app, name="classify")
    result = runner.invoke(parent, ["classify", "what is 2 + 2", "-s", "rules"])
    assert result.exit_code == 0, result.output
    assert "fast-path" in result.output
    result = runner.invoke(
        parent, ["classify", "eval", str(_devset(tmp_path / "d.jsonl")), "-s", "keyword"]
    )
    assert result.exit_code == 0, result.output
    assert "keyword" in result.output


def test_score_metrics() -> None:
    items = [
        Item("1", {}, "fast-path", "a/x"),
        Item("2", {}, "general", "a/y"),
        Item("3", {}, "high-compute", "b"),
        Item("4", {}, "general", "b/z"),
    ]
    lanes = ["fast-path", "high-compute", "high-compute", "general"]
    decisions = [Decision(lane, 1.0, "", "t") for lane in lanes]  # type: ignore[arg-type]
    report = score(items, decisions, [0.001, 0.002, 0.003, 0.004])
    assert report.accuracy == 0.75
    assert report.confusion["general"]["high-compute"] == 1
    assert report.per_family == {"a": (0.5, 2), "b": (1.0, 2)}
    assert abs(report.per_lane["high-compute"]["precision"] - 0.5) < 1e-9
    assert abs(report.macro_f1 - (1 + 2 / 3 + 2 / 3) / 3) < 1e-9
    assert abs(report.latency_ms["p50"] - 2.5) < 1e-9
    assert percentile([1.0, 2.0, 3.0], 100) == 3.0


def test_load_items_rejects_unknown_labels(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"request": {"prompt": "x"}, "label": "slow"}) + "\n")
    try:
        load_items(path)
    except ValueError as exc:
        assert "unknown lane" in str(exc)
    else:
        raise AssertionError("expected ValueError")
