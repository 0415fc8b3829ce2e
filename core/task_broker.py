"""django-q2's ORM broker with fewer waits for the disk (Q_CLUSTER["broker_class"], issue #18 §4).

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
