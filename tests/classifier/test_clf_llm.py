"""The llm strategy against a real local HTTP server that answers well, slowly or badly."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from clf_helpers import CountingStrategy, chat

from classifier.service import ClassificationTimeout, Classifier
from classifier.strategies import CASCADE_LLM_SHARE, CascadeStrategy, RulesStrategy
from classifier.strategies.base import StrategyUnavailable
from classifier.strategies.llm import LLMStrategy
from classifier.tasks import decide
from laneway.settings import ClassifierConfig

MODES: dict[str, str] = {}


def _completion(content: str) -> bytes:
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": content}}]}
    ).encode()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        MODES["last_auth"] = self.headers.get("Authorization", "")
        MODES["last_body"] = json.dumps(body)
        mode = self.path.split("/")[1]
        if mode == "slow":
            time.sleep(3)
        if mode == "error":
            self.send_response(503)
            self.end_headers()
            return
        if mode == "trickle":
            payload = _completion('{"lane": "general"}')
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            for byte in payload:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
            return
        content = {
            "good": '{"lane": "high-compute"}',
            "garbage": "I think it is hard",
            "badlane": '{"lane": "medium"}',
            "fenced": '```json\n{"lane": "fast-path"}\n```',
        }.get(mode, "")
        payload = _completion(content) if mode != "notjson" else b"<html>oops</html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out close the socket early; that is the point


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_good_answer(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLF_TEST_KEY", "sekrit")
    llm = LLMStrategy(f"{server}/good/v1", "tiny", "CLF_TEST_KEY", timeout_seconds=2)
    decision = llm.classify(chat("prove the four colour theorem", max_tokens=500))
    assert (decision.lane, decision.strategy) == ("high-compute", "llm")
    assert MODES["last_auth"] == "Bearer sekrit"
    assert "max_tokens=500" in MODES["last_body"]


def test_fenced_json_is_accepted(server: str) -> None:
    assert LLMStrategy(f"{server}/fenced/v1", "tiny").classify(chat("hi")).lane == "fast-path"


@pytest.mark.parametrize("mode", ["garbage", "badlane", "notjson", "error"])
def test_bad_answers_raise_unavailable(server: str, mode: str) -> None:
    llm = LLMStrategy(f"{server}/{mode}/v1", "tiny", timeout_seconds=2)
    with pytest.raises(StrategyUnavailable):
        llm.classify(chat("hello"))


@pytest.mark.parametrize("mode", ["slow", "trickle"])
def test_timeout_is_bounded(server: str, mode: str) -> None:
    llm = LLMStrategy(f"{server}/{mode}/v1", "tiny", timeout_seconds=0.5)
    start = time.monotonic()
    with pytest.raises(StrategyUnavailable, match="timed out"):
        llm.classify(chat("hello"))
    assert time.monotonic() - start < 1.5


def test_unreachable_backend_raises_unavailable() -> None:
    llm = LLMStrategy("http://127.0.0.1:9/v1", "tiny", timeout_seconds=0.5)
    with pytest.raises(StrategyUnavailable):
        llm.classify(chat("hello"))


def test_cascade_falls_through_a_slow_llm_within_the_bound(server: str) -> None:
    unsure = CountingStrategy("general", confidence=0.3)
    cascade = CascadeStrategy(
        RulesStrategy(), unsure, LLMStrategy(f"{server}/slow/v1", "tiny", timeout_seconds=0.5)
    )
    start = time.monotonic()
    decision = cascade.classify(chat("I wonder about the old bridge in town and its story"))
    assert time.monotonic() - start < 1.5
    assert decision.lane == "general"
    assert "llm fell through" in decision.reason


def test_llm_from_config_raises_a_classification_timeout(server: str) -> None:
    config = ClassifierConfig(
        strategy="llm", llm_base_url=f"{server}/slow/v1", llm_model="tiny", timeout_seconds=0.5
    )
    service = Classifier.from_config(config)
    assert service.batcher is None  # the llm bounds its own call: no thread hop
    start = time.monotonic()
    with pytest.raises(ClassificationTimeout, match=r"timed out after 0\.5s"):
        service.classify(chat("hello"))
    assert time.monotonic() - start < 1.5
    decision = decide(service, chat("hello"))
    assert (decision.lane, decision.strategy) == ("general", "fallback")
    assert "timed out" in decision.reason


def test_cascade_llm_stage_falls_through_within_the_service_bound(server: str) -> None:
    # The cascade's llm stage gets a share of the bound, so its fall-through still makes it.
    bound = 0.8
    unsure = CountingStrategy("general", confidence=0.3)
    llm = LLMStrategy(f"{server}/slow/v1", "tiny", timeout_seconds=bound * CASCADE_LLM_SHARE)
    service = Classifier(
        CascadeStrategy(RulesStrategy(), unsure, llm), batch=True, timeout_seconds=bound
    )
    try:
        start = time.monotonic()
        decision = service.classify(chat("I wonder about the old bridge in town and its story"))
        assert time.monotonic() - start < bound
        assert decision.lane == "general"
        assert "llm fell through" in decision.reason
    finally:
        service.close()
