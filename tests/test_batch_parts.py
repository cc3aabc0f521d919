"""Merging a batch's result parts into files in input order (pure logic on a real folder)."""

from __future__ import annotations

import heapq
import json
import random
from pathlib import Path

from api.batch.driver import fold_parts, part_line
from laneway.filestore import FileStorage


def test_parts_fold_into_few_files_in_input_order(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path.as_uri())
    indexes = list(range(1000))
    random.Random(7).shuffle(indexes)
    parts = []
    for n, start in enumerate(range(0, 1000, 7)):  # 143 parts of lines finished out of order
        name = f"b/part-{n}.jsonl"
        chunk = sorted(indexes[start : start + 7])
        with storage.writer(name) as out:
            for index in chunk:
                out.write(part_line((index, index % 3 != 0, {"custom_id": f"c-{index}"})))
        parts.append(name)

    folded = fold_parts(storage, "b", parts, fan_in=10)

    assert len(folded) <= 10
    readers = [storage.reader(name) for name in folded]
    merged = list(heapq.merge(*readers, key=lambda raw: raw[1:11]))
    for reader in readers:
        reader.close()
    order = [json.loads(raw[12:])["custom_id"] for raw in merged]
    assert order == [f"c-{i}" for i in range(1000)]
    assert [raw[:1] for raw in merged] == [b"e" if i % 3 == 0 else b"o" for i in range(1000)]
