"""The task queue's brokers: django-q2's ORM broker with fewer waits for the disk (issue #18 §4), and
a Redis broker that loses no task when a cluster dies (issue #17; at the end of this module).

The ORM broker (Q_CLUSTER["broker_class"] without REDIS_URL):

django-q2's own ORM broker (django_q/brokers/orm.py) locks each fetched task with its own
UPDATE and deletes each finished one with its own DELETE, each an autocommit that waits for
PostgreSQL to flush its log to disk: with a few milliseconds per flush that wait, not the
queries, sets the pace. On PostgreSQL this broker
- fetches and locks up to `bulk` tasks in one statement (`UPDATE ... WHERE id IN (SELECT ...
  FOR UPDATE SKIP LOCKED) RETURNING`), oldest first, so several clusters never wait on each
  other's rows, and
- locks and acknowledges without waiting for the flush (`SET LOCAL synchronous_commit TO OFF`).

Why that is safe: django-q2's ORM queue delivers at least once, and every task of ours may run
twice (PITFALLS.md). If the database crashes within the fraction of a second before such a
commit reaches disk, a lock or an acknowledgement is lost, and the task is offered again: it
runs twice, it is never lost. Enqueueing is django-q2's own, an ordinary commit, so a queued
task survives a crash as before. Results are saved by django-q2's monitor on the default
connection, as before. On SQLite (development, tests) it is django-q2's broker unchanged.
"""

from __future__ import annotations

from datetime import timedelta
from time import monotonic, sleep
from typing import Any

from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis as RedisQueue
from django_q.conf import Conf
from django_q.models import OrmQ

_TABLE = OrmQ._meta.db_table
# One round trip each: SET LOCAL and the statement go as one query string, which PostgreSQL runs
# as one implicit transaction (Django's psycopg 3 cursors bind parameters on the client, so a
# string of two statements may carry them). Waiting for the flush is what we skip, so a second
# round trip for BEGIN/COMMIT would give back much of what that saves.
_NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO OFF; "
_FETCH = f"""
    UPDATE {_TABLE} SET "lock" = %s
    WHERE id IN (
        SELECT id FROM {_TABLE}
        WHERE "key" = %s AND "lock" < %s
        ORDER BY id
        LIMIT %s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, payload
"""  # noqa: S608 - the table name is django-q2's model's, not input
_DELETE = f"DELETE FROM {_TABLE} WHERE id = %s"  # noqa: S608 - as above


class OrmBroker(ORM):
    def _postgresql(self) -> bool:
        # Outside a transaction only: inside one, SET LOCAL would reach the caller's own commit.
        connection = connections[Conf.ORM]
        return connection.vendor == "postgresql" and connection.get_autocommit()

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        if not self._postgresql():
            return super().dequeue()  # type: ignore[no-any-return]
        now = timezone.now()
        rows = self._run(_FETCH, [now + timedelta(seconds=Conf.RETRY), self.list_key, now, Conf.BULK], rows=True)
        if rows:
            return sorted(rows)  # oldest first, as they were queued
        sleep(Conf.POLL)  # empty queue: spare the database, as django-q2 does
        return None

    def delete(self, task_id: Any) -> None:
        # acknowledge() and fail() both end here.
        if not self._postgresql():
            super().delete(task_id)
            return
        self._run(_DELETE, [task_id], rows=False)

    @staticmethod
    def _run(sql: str, params: list[Any], *, rows: bool) -> list[tuple[Any, Any]]:
        """One statement, not waiting for the flush, on a live connection.

        django-q2's broker calls close_old_connections() first, which with CONN_HEALTH_CHECKS costs
        a `SELECT 1` round trip on every call. Here the connection is retired at CONN_MAX_AGE as
        Django would, and one the database dropped (a restart) is replaced and the statement sent
        once more: a fetch whose first try did commit leaves its tasks locked until `retry`, after
        which they are offered again; a delete is the same the second time.
        """
        connection = connections[Conf.ORM]
        if connection.close_at is not None and monotonic() >= connection.close_at:
            connection.close()
        for attempt in (1, 2):
            try:
                with connection.cursor() as cursor:
                    cursor.execute(_NO_FLUSH_WAIT + sql, params)
                    if not rows:
                        return []
                    cursor.cursor.nextset()  # past SET's empty result, to the statement's rows
                    return cursor.fetchall()
            except (InterfaceError, OperationalError):
                if attempt == 2:
                    raise
                connection.close()
        return []  # not reached: the loop returns or raises


# --- Redis: the same promise as the database queue ------------------------------------------------
#
# django-q2's Redis broker takes a task with BLPOP: from then on the task exists only in the
# cluster that took it, so a cluster killed on one machine (SIGKILL, a lost node) loses the
# tasks it was running and those it had fetched ahead (PITFALLS.md). With several clusters on
# several machines, that is every node loss. This broker keeps each task it hands out in Redis
# until the cluster acknowledges it, with a deadline `retry` seconds ahead (longer than a task's
# `timeout`): a task whose deadline passes unacknowledged (its cluster died) is put back at the
# front of the queue and runs again, as the database queue's lock does. Each move is one Lua
# script, atomic in Redis, so two clusters never take the same task and a task is never in
# neither place. Delivery is at least once, as on the database queue; every task is safe to run
# twice (STYLE.md "Tasks").

# KEYS: queue list, deadlines (sorted set: ack id -> deadline), payloads (hash: ack id -> payload),
# ack id counter. ARGV: how many to take, seconds until a taken task comes back, how many expired
# tasks to put back at most. Redis' own clock decides deadlines, so machines' clocks never disagree.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for i = #expired, 1, -1 do
    local payload = redis.call('HGET', KEYS[3], expired[i])
    redis.call('ZREM', KEYS[2], expired[i])
    redis.call('HDEL', KEYS[3], expired[i])
    if payload then redis.call('LPUSH', KEYS[1], payload) end
end
local payloads = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not payloads then return {} end
local taken = {}
for _, payload in ipairs(payloads) do
    local id = redis.call('INCR', KEYS[4])
    redis.call('HSET', KEYS[3], id, payload)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    table.insert(taken, id)
    table.insert(taken, payload)
end
return taken
"""
_DONE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
"""
# Expired tasks put back per fetch: a dead cluster's tasks return within a few fetches.
_PUT_BACK_PER_FETCH = 100


class RedisBroker(RedisQueue):
    """django-q2's Redis broker, with tasks kept until acknowledged (Q_CLUSTER["broker_class"] with REDIS_URL)."""

    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key)
        # super() made list_key "django_q:<name>:q"; the taken tasks live beside it.
        self.deadlines_key = f"{self.list_key}:taken"
        self.payloads_key = f"{self.list_key}:taken:payloads"
        self.ids_key = f"{self.list_key}:taken:ids"
        self._take = self.connection.register_script(_TAKE)
        self._done = self.connection.register_script(_DONE)

    def __setstate__(self, state: Any) -> None:
        self.__init__(list_key=state[0].removeprefix("django_q:").removesuffix(":q"))  # type: ignore[misc]

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        taken = self._take(
            keys=[self.list_key, self.deadlines_key, self.payloads_key, self.ids_key],
            args=[max(1, Conf.BULK), Conf.RETRY, _PUT_BACK_PER_FETCH],
        )
        if taken:
            return [(int(taken[i]), taken[i + 1]) for i in range(0, len(taken), 2)]
        sleep(Conf.POLL)  # empty queue: a short wait instead of BLPOP, which cannot run in a script
        return None

    def acknowledge(self, task_id: Any) -> None:
        self.delete(task_id)

    def fail(self, task_id: Any) -> None:
        self.delete(task_id)

    def delete(self, task_id: Any) -> None:
        self._done(keys=[self.deadlines_key, self.payloads_key], args=[task_id])

    def lock_size(self) -> int:
        return int(self.connection.zcard(self.deadlines_key))

    def delete_queue(self) -> Any:
        return self.connection.delete(self.list_key, self.deadlines_key, self.payloads_key, self.ids_key)

    def purge_queue(self) -> Any:
        self.connection.delete(self.deadlines_key, self.payloads_key)
        return super().purge_queue()
