# kombu's transport classes are untyped: calls into them are allowed here.
# mypy: disable-error-code="no-untyped-call"
"""kombu's Redis transport, with its ack bookkeeping taken off the job's path.

Under ``acks_late`` kombu's Redis transport records every delivered message as
unacknowledged (``HSET unacked`` + ``ZADD unacked_index``) and removes the record
on ack. Stock kombu makes each of those a blocking round trip, and builds a new
``redis.Redis`` object for each (about 0.1 ms of CPU with redis-py 5+), so a job
that crosses two queues waits on four extra round trips.

This transport keeps kombu's keys, formats and recovery rules (Flower, KEDA and
stock Celery workers see the same data) and changes only how the records are
written: each goes out at once, in order, on one dedicated connection per
channel, and the worker does not wait for Redis's reply. Replies are read as
they arrive; until then the commands are kept and, if the connection breaks,
sent again on a new one (setting and deleting a record are idempotent, and a
message's record is always sent before its removal). Before anything reads the
records back — a requeue, or the restore of unacked messages at shutdown — the
outstanding replies are awaited.

A record goes out microseconds after the BRPOP that delivered its message, as
with stock kombu; a worker killed in between loses the message either way,
which laneway's watchdog covers (see ``workers.watchdog``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.json import dumps

log = logging.getLogger(__name__)

_REPLIES_PER_OP = 2
_CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class UnackedWriter:
    """Pipelines kombu's unacked-record commands on one connection, in order.

    Every op is two commands, so two replies. Ops stay in ``_unconfirmed`` until
    both replies are read; ``_partial`` counts the replies read for the oldest.
    """

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        prefix = getattr(channel, "global_keyprefix", "") or ""
        self._hash_key = prefix + channel.unacked_key
        self._index_key = prefix + channel.unacked_index_key
        self._lock = threading.Lock()
        self._conn: Any = None
        self._packer = self._new_connection()
        """Never connected: packs commands the way the connection will send them."""
        self._unconfirmed: deque[list[bytes]] = deque()
        self._partial = 0

    def record(self, delivery_tag: str, payload: str) -> None:
        """The message is delivered: keep it so that it can be restored."""
        self._send(
            ("HSET", self._hash_key, delivery_tag, payload),
            ("ZADD", self._index_key, time.time(), delivery_tag),
        )

    def remove(self, delivery_tag: str) -> None:
        """The message is acked (or dropped): forget its record."""
        self._send(
            ("ZREM", self._index_key, delivery_tag),
            ("HDEL", self._hash_key, delivery_tag),
        )

    @property
    def pending(self) -> int:
        """Ops sent whose replies have not all been read yet."""
        return len(self._unconfirmed)

    def sync(self, timeout: float = 10.0) -> None:
        """Wait until Redis has applied every op sent so far (up to ``timeout``).

        Never waits longer: a worker shutting down while Redis is away must
        still stop. Ops left unconfirmed stay queued for the next send.
        """
        deadline = time.monotonic() + timeout
        delay = 0.05
        with self._lock:
            while self._unconfirmed:
                try:
                    if self._conn is None:
                        self._resend()
                    self._read(block=True)
                except _CONNECTION_ERRORS as exc:
                    self._drop_connection()
                    if time.monotonic() + delay > deadline:
                        log.error(
                            "%d unacked-record ops not confirmed by Redis: %r",
                            len(self._unconfirmed),
                            exc,
                        )
                        return
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)

    def close(self) -> None:
        self.sync()
        with self._lock:
            self._drop_connection()

    def _send(self, *commands: tuple[Any, ...]) -> None:
        """Queue one op and send it (with any earlier op a broken connection left unsent).

        Raises kombu's connection errors as stock kombu does when Redis is away;
        the op stays queued and goes out, in order, with the next send that works.
        """
        with self._lock:
            self._unconfirmed.append(self._packer.pack_commands(commands))
            try:
                if self._conn is None:
                    self._resend()
                else:
                    self._conn.send_packed_command(self._unconfirmed[-1], check_health=False)
                self._read(block=False)
            except _CONNECTION_ERRORS as exc:
                log.warning("unacked records: %r; sending %d again", exc, len(self._unconfirmed))
                self._drop_connection()
                self._resend()  # one more try on a new connection, else raise

    def _new_connection(self) -> Any:
        # A connection of its own: replies are read late, so no other command
        # may share it (and no health-check PING may run on it).
        pool = self._channel.pool
        kwargs = {**pool.connection_kwargs, "health_check_interval": 0}
        return pool.connection_class(**kwargs)

    def _read(self, block: bool) -> None:
        """Read the replies that have arrived (every outstanding one when ``block``)."""
        conn = self._conn
        while self._unconfirmed and (block or conn.can_read(timeout=0)):
            try:
                conn.read_response(disconnect_on_error=False)
            except redis.ResponseError as exc:  # e.g. OOM: that record is missing
                log.error("Redis refused an unacked record: %s", exc)
            self._partial += 1
            if self._partial == _REPLIES_PER_OP:
                self._unconfirmed.popleft()
                self._partial = 0

    def _resend(self) -> None:
        """Send every unconfirmed op, oldest first, on a new connection."""
        conn = self._new_connection()
        try:
            for packed in self._unconfirmed:
                conn.send_packed_command(packed, check_health=False)
        except _CONNECTION_ERRORS:
            conn.disconnect()
            raise
        self._conn = conn
        self._partial = 0

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()
            self._conn = None
        self._partial = 0


class QoS(kombu_redis.QoS):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writer = UnackedWriter(self.channel)

    def append(self, message: Any, delivery_tag: str) -> None:
        delivery = message.delivery_info
        payload = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])
        self.writer.record(delivery_tag, payload)
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        self.writer.remove(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:
            self.writer.sync()  # restoring reads the record back
            super().reject(delivery_tag, requeue=True)
        else:
            self.ack(delivery_tag)

    def restore_unacked(self, client: Any = None) -> None:
        self.writer.sync()
        super().restore_unacked(client)


class Channel(kombu_redis.Channel):
    QoS = QoS
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        # Stock kombu builds a new redis.Redis for every synchronous command; one
        # per connection pool is enough (a redis.Redis is safe to share between
        # threads: each command checks a connection out of the pool).
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._shared_client
        if client is None or client.connection_pool is not pool:
            client = self._shared_client = super()._create_client()
        return client

    def close(self) -> None:
        qos = getattr(self, "_qos", None)
        super().close()  # restores unacked messages first (see QoS.restore_unacked)
        if qos is not None:
            qos.writer.close()


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"
"""The value of Celery's ``broker_transport`` that selects this transport."""
