"""Reading a backend's error answers: how long Retry-After asks us to wait."""

from __future__ import annotations

import email.utils
import time

import pytest

from workers.backends import retry_after_seconds


def test_retry_after_in_seconds() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("0.5") == 0.5
    assert retry_after_seconds("-2") == 0.0


def test_retry_after_as_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert retry_after_seconds(later) == pytest.approx(30, abs=2)
    earlier = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after_seconds(earlier) == 0.0


def test_a_missing_or_unreadable_retry_after_is_none() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds("soon") is None
