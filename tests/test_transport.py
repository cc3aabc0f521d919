"""laneway's kombu transport: kombu's unacked records, written without waiting on Redis.

A Redis server of its own per test: one test kills every client connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Message, Producer, Queue

from laneway.redis_server import EmbeddedRedis
from laneway.transport import TRANSPORT, QoS


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    started = EmbeddedRedis(tmp_path / "redis").start()
    yield started
    started.stop()


@pytest.fixture
def r(server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    yield client
    client.close()


QUEUE = Queue("jobs", Exchange("jobs", type="direct"), routing_key="jobs")


def publish(conn: Connection, *bodies: dict[str, Any]) -> None:
    with Producer(conn) as producer:
        for body in bodies:
            producer.publish(
                body,
                exchange=QUEUE.exchange,
                routing_key="jobs",
                declare=[QUEUE],
                serializer="json",
            )


def receive(conn: Connection, count: int = 1) -> list[Message]:
    got: list[Message] = []
    consumer = Consumer(conn, [QUEUE], callbacks=[lambda _, m: got.append(m)], accept=["json"])
    consumer.qos(prefetch_count=count)
    with consumer:
        while len(got) < count:
            conn.drain_events(timeout=5)
    return got


def qos_of(message: Message) -> QoS:
    qos = message.channel.qos
    assert isinstance(qos, QoS)
    return qos


def test_a_delivered_message_is_recorded_as_kombu_records_it_and_forgotten_on_ack(
    server: EmbeddedRedis, r: redis.Redis
) -> None:
    with Connection(server.url, transport=TRANSPORT) as conn:
        publish(conn, {"n": 1})
        [message] = receive(conn)
        qos_of(message).writer.sync()
        record = json.loads(r.hget("unacked", message.delivery_tag) or "null")
        assert record is not None, "the delivered message must be restorable"
        raw, exchange, routing_key = record
        assert raw["properties"]["delivery_tag"] == message.delivery_tag
        assert (exchange, routing_key) == ("jobs", "jobs")
        assert r.zscore("unacked_index", message.delivery_tag) is not None

        message.ack()
        qos_of(message).writer.sync()
        assert not r.hexists("unacked", message.delivery_tag)
        assert r.zscore("unacked_index", message.delivery_tag) is None


def test_records_survive_a_broken_connection_and_keep_their_order(
    server: EmbeddedRedis, r: redis.Redis
) -> None:
    with Connection(server.url, transport=TRANSPORT) as conn:
        publish(conn, {"n": 1}, {"n": 2})
        first, second = receive(conn, 2)
        writer = qos_of(first).writer
        writer.sync()
        # Every client connection dies, the writer's included; the ack goes out
        # on a new connection, after the records it did not see confirmed.
        r.client_kill_filter(_type="normal", skipme=True)
        first.ack()
        writer.sync()
        assert writer.pending == 0
        assert not r.hexists("unacked", first.delivery_tag)
        assert r.hexists("unacked", second.delivery_tag)
        second.ack()
        writer.sync()
        assert r.hlen("unacked") == 0
        assert r.zcard("unacked_index") == 0


def test_a_rejected_message_goes_back_to_its_queue(server: EmbeddedRedis, r: redis.Redis) -> None:
    with Connection(server.url, transport=TRANSPORT) as conn:
        publish(conn, {"n": 1})
        [message] = receive(conn)
        message.requeue()
        assert r.llen("jobs") == 1
        assert r.hlen("unacked") == 0
        [again] = receive(conn)
        assert again.payload == {"n": 1}
        again.ack()


def test_unacked_messages_are_restored_when_the_channel_closes(
    server: EmbeddedRedis, r: redis.Redis
) -> None:
    conn = Connection(server.url, transport=TRANSPORT)
    publish(conn, {"n": 1})
    [message] = receive(conn)
    assert r.llen("jobs") == 0
    message.channel.close()  # a worker shutting down with a message in hand
    conn.release()
    assert r.llen("jobs") == 1
    assert json.loads(r.lindex("jobs", 0) or "{}")["properties"]["delivery_tag"] == (
        message.delivery_tag
    )


def test_while_redis_is_away_acks_fail_like_kombus_and_go_out_once_it_is_back(
    server: EmbeddedRedis, r: redis.Redis
) -> None:
    with Connection(server.url, transport=TRANSPORT) as conn:
        publish(conn, {"n": 1})
        [message] = receive(conn)
        writer = qos_of(message).writer
        writer.sync()
        server.stop()
        with pytest.raises(redis.ConnectionError):
            message.channel.qos.ack(message.delivery_tag)  # stock kombu raises too
        started = time.monotonic()
        writer.sync(timeout=0.5)  # a worker stopping now must not hang on Redis
        assert time.monotonic() - started < 2
        assert writer.pending == 1, "the ack is kept, not dropped"
        server.start()
        assert r.hexists("unacked", message.delivery_tag)  # kept by the AOF meanwhile
        writer.sync()
        assert writer.pending == 0
        assert r.hlen("unacked") == 0, "the ack went out once Redis was back"
        assert r.zcard("unacked_index") == 0
