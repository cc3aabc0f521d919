"""Teaching the classifier without code: the user's example files, `classify train`,
`classify export`, and the held-out reliability table of `classify eval`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clf_helpers import chat
from typer.testing import CliRunner

from classifier.bank import (
    USER_WEIGHT,
    BankError,
    Example,
    bank_digest,
    load_bank,
    load_examples,
    load_user_examples,
    packaged_files,
)
from classifier.calibration import group_folds, holdout_split, reliability
from classifier.cli import app
from classifier.export import export_lines, export_row
from laneway.jobs import Attempt, Job, JobKind, JobStatus
from laneway.lanes import LANES

runner = CliRunner()


# -- the bank loader ---------------------------------------------------------------------

MALFORMED = [
    (
        "mine.jsonl",
        '{"text": "hi", "lane": "fast-path"}\n\n{"text": "oops", "lane": "general"\n',
        r"mine\.jsonl:3: not valid JSON",
    ),
    (
        "mine.jsonl",
        '{"text": "hi", "lane": "fast-path"}\n{"text": "hello", "lane": "slow-lane"}\n',
        r"mine\.jsonl:2: unknown lane 'slow-lane'",
    ),
    ("mine.jsonl", '{"text": "hi"}\n', r"mine\.jsonl:1: an example needs a 'lane'"),
    ("mine.jsonl", '["hi", "fast-path"]\n', r"mine\.jsonl:1: expected a JSON object"),
    (
        "mine.jsonl",
        '{"lane": "general", "text": "   "}\n',
        r"mine\.jsonl:1: the example has no user text",
    ),
    (
        "mine.yaml",
        "lane: general\nexamples:\n  - explain tides\n  - {note: no text here}\n",
        r"mine\.yaml:4: an example must be a string or have 'text' or 'request'",
    ),
    (
        "mine.yaml",
        "fast-path:\n  - hi\nslow-lane:\n  - hello\n",
        r"mine\.yaml:4: unknown lane 'slow-lane'",
    ),
    ("mine.yaml", "general:\n  - fine\n  - [unclosed\n", r"mine\.yaml:\d+: not valid YAML"),
    ("mine.yaml", "lane: general\nexamples: explain tides\n", r"mine\.yaml:2: .*must be a list"),
]


@pytest.mark.parametrize("name,content,message", MALFORMED)
def test_the_bank_loader_rejects_a_malformed_user_file_with_the_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BankError, match=message):
        load_bank(path)


def test_both_formats_of_the_packaged_files_load_with_group_and_weight(tmp_path: Path) -> None:
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text(
        "general:\n  - explain tides\n  - {text: plan a trip, max_tokens: 300, group: trips}\n"
        "high-compute:\n  - {request: {messages: [{role: user, content: prove it}]}}\n"
    )
    jsonl_file = tmp_path / "mine.jsonl"
    jsonl_file.write_text('{"label": "fast-path", "text": "hi", "group": "greetings"}\n')
    examples = load_user_examples(yaml_file) + load_user_examples(jsonl_file)
    assert [(e.lane, e.text, e.group) for e in examples] == [
        ("general", "explain tides", "mine"),
        ("general", "plan a trip", "trips"),
        ("high-compute", "prove it", "mine"),
        ("fast-path", "hi", "greetings"),
    ]
    assert examples[1].request["max_tokens"] == 300 and "group" not in examples[1].request
    assert all(e.weight == USER_WEIGHT for e in examples)
    assert all(e.weight == 1.0 for e in load_examples(jsonl_file))
    # weights are part of the content hash the heads are cached under
    assert bank_digest(examples) != bank_digest(
        load_examples(yaml_file) + load_examples(jsonl_file)
    )


def test_classify_train_names_the_bad_line_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"text": "hi", "lane": "fast-path"}\n{"text": "x", "lane": "medium"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "laneway_cli", "classify", "train", str(bad), "-s", "embedding"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{bad}:2: unknown lane 'medium'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr + result.stdout


# -- held-out splits and the reliability table --------------------------------------------


def _examples(groups: dict[str, int]) -> list[Example]:
    out = []
    for number, (group, count) in enumerate(groups.items()):
        lane = LANES[number % len(LANES)]
        out += [Example(lane, chat(f"{group} {i}"), f"{group} {i}", group) for i in range(count)]
    return out


def test_group_folds_keep_every_group_whole_and_balance_sizes() -> None:
    examples = _examples({"a": 9, "b": 7, "c": 5, "d": 5, "e": 3, "f": 2, "g": 1})
    folds = group_folds(examples, 3)
    assert sorted(i for fold in folds for i in fold) == list(range(len(examples)))
    for fold in folds:
        groups = {examples[i].group for i in fold}
        assert all(
            sum(1 for i in fold if examples[i].group == g)
            == sum(1 for e in examples if e.group == g)
            for g in groups
        )
    assert max(map(len, folds)) - min(map(len, folds)) <= 3
    with pytest.raises(ValueError, match="cannot fill"):
        group_folds(_examples({"a": 3, "b": 3}), 3)


def test_holdout_split_holds_out_a_share_of_every_lane() -> None:
    examples = _examples({"a": 8, "b": 8, "c": 8, "d": 1})
    train, held = holdout_split(examples, 0.25, seed=1)
    assert len(train) + len(held) == len(examples)
    assert not {id(e) for e in train} & {id(e) for e in held}
    # 9 fast-path, 8 general, 8 high-compute examples: a quarter of each, rounded
    assert (
        sorted(e.lane for e in held) == ["fast-path"] * 2 + ["general"] * 2 + ["high-compute"] * 2
    )
    assert holdout_split(examples, 0.25, seed=1) == (train, held)


def test_reliability_compares_each_bins_confidence_with_its_accuracy() -> None:
    table = reliability([0.95, 0.95, 0.91, 0.99, 0.55, 0.52, 1.0], [1, 1, 1, 0, 1, 0, 1], 10)
    assert [(b.low, b.n) for b in table.bins] == [(0.5, 2), (0.9, 5)]
    top = table.bins[1]
    assert top.accuracy == pytest.approx(0.8) and top.mean_confidence == pytest.approx(0.96)
    assert table.bins[0].gap == pytest.approx(0.535 - 0.5)
    assert table.ece == pytest.approx((2 * 0.035 + 5 * 0.16) / 7)
    assert table.accuracy == pytest.approx(5 / 7)


def test_classify_eval_prints_the_reliability_table_of_the_bank() -> None:
    result = runner.invoke(app, ["eval", "-s", "rules", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    table = report["reliability"]
    assert table["n"] == report["n"] == len(load_bank())
    assert sum(b["n"] for b in table["bins"]) == table["n"]
    assert {"low", "high", "mean_confidence", "accuracy", "gap"} <= set(table["bins"][0])
    assert report["accuracy"] == pytest.approx(table["accuracy"])
    printed = runner.invoke(app, ["eval", "-s", "rules"])
    assert printed.exit_code == 0
    assert "reliability" in printed.stdout and "ECE" in printed.stdout


def test_classify_eval_by_file_scores_each_bank_file_as_one_family(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "-s", "rules", "--by-file", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["per_family"]) == {p.name for p in packaged_files()}
    assert report["n"] == len(load_bank())
    grouped = load_bank(group_by_file=True)
    assert [e.request for e in grouped] == [e.request for e in load_bank()]
    bank = tmp_path / "bank.jsonl"
    bank.write_text(json.dumps({"text": "hi", "lane": "fast-path"}) + "\n")
    refused = runner.invoke(app, ["eval", "-s", "rules", "--by-file", "--bank", str(bank)])
    assert refused.exit_code == 2 and "--by-file" in refused.output
    assert "Traceback" not in refused.output


# -- export ------------------------------------------------------------------------------


def _job(status: JobStatus, **fields: object) -> Job:
    base: dict[str, object] = {
        "id": "j1",
        "tenant": "t",
        "status": status,
        "kind": JobKind.CHAT,
        "request": chat("tell me about tides"),
        "lane": "general",
        "strategy": "cascade",
        "confidence": 0.8,
        "created_at": 1.0,
        "updated_at": 2.0,
    }
    return Job.model_validate({**base, **fields})


def test_an_exported_job_is_labelled_with_the_lane_that_answered_it() -> None:
    spilled = _job(
        JobStatus.SUCCEEDED,
        lane="high-compute",
        attempts=[
            Attempt(backend="g", lane="general", started_at=1, outcome="failed"),
            Attempt(backend="h", lane="high-compute", started_at=2, outcome="succeeded"),
        ],
    )
    row = export_row(spilled)
    assert row is not None
    assert row["lane"] == "high-compute" and row["lanes_tried"] == ["general", "high-compute"]
    assert row["decided_by"] == "cascade" and row["request"] == chat("tell me about tides")
    # a failed or cancelled job, or one whose prompt expired, teaches nothing
    assert export_row(_job(JobStatus.FAILED)) is None
    assert export_row(_job(JobStatus.CANCELLED)) is None
    assert export_row(_job(JobStatus.SUCCEEDED, request=None)) is None
    routed = _job(JobStatus.SUCCEEDED, strategy="route", id="j2")
    lines = list(export_lines(iter([spilled, routed]), client_routed_only=True))
    assert [json.loads(line)["job_id"] for line in lines] == ["j2"]


def test_an_exported_file_loads_as_user_examples(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(export_lines(iter([_job(JobStatus.SUCCEEDED)]))) + "\n")
    [example] = load_user_examples(path)
    assert (example.lane, example.text, example.group) == ("general", "tell me about tides", "jobs")
    assert example.request == chat("tell me about tides")
