"""The emulator's state: one SQLite file behind one lock.

Every document (an app, a payable, a transfer...) is a JSON text row keyed by
(kind, id). The `seq` column is an insertion sequence: lists are newest first by
`seq DESC`, so pagination order never depends on timestamps that can tie.

One connection is shared by every server thread. That is safe because all use
goes through `Store.lock` (app.py holds it for a whole handler, in one
transaction). A per-thread connection would save nothing here: the lock
serialises writers anyway, and one connection keeps SQLite's page cache warm.

Finding a document by a field of its body (a user by phone, a user's payout methods)
goes through a `Lookup`: a partial expression index on `json_extract(body, path)`
for that kind only, so the search costs the same at a thousand documents as at a
million (no document is parsed to find another). SQLite keeps such an index in step
on every insert, update and delete, insert_many included, and `CREATE INDEX IF NOT
EXISTS` builds it over an older data file when the emulator opens it.
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, overload

from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    app_id TEXT,
    body TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE INDEX IF NOT EXISTS docs_kind_app_seq ON docs (kind, app_id, seq);
CREATE INDEX IF NOT EXISTS docs_kind_seq ON docs (kind, seq);
CREATE TABLE IF NOT EXISTS counters (kind TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    app_id TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at REAL NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    last_status INTEGER,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS webhook_events_status ON webhook_events (status, next_attempt_at);
"""

TABLES = ("docs", "counters", "idempotency", "meta", "webhook_events")

# SQLite's page cache, in KiB (negative = KiB in PRAGMA cache_size): its default 2 MiB holds
# a few thousand documents' index pages; 64 MiB keeps a million-document store's indexes warm.
CACHE_KIB = 64 * 1024

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$")


@dataclass(frozen=True)
class Lookup:
    """Documents of one kind found by the values at JSON paths of their body, through an index.

    Declared once per module with `lookup()`; `Store.find()` uses it. The kind and paths go
    into the SQL as literals (a partial index is used only when the query names its kind
    literally), so both are checked against a strict pattern here.
    """

    kind: str
    name: str
    paths: tuple[str, ...]

    def __post_init__(self) -> None:
        if not (_NAME.match(self.kind) and _NAME.match(self.name) and self.paths):
            raise ValueError(f"bad lookup {self.kind!r}/{self.name!r}")
        for path in self.paths:
            if not _PATH.match(path):
                raise ValueError(f"bad JSON path {path!r} for lookup {self.kind}/{self.name}")

    @property
    def index_name(self) -> str:
        return f"docs_by_{self.kind}_{self.name}"

    @property
    def expressions(self) -> builtins.list[str]:
        return [f"json_extract(body, '{path}')" for path in self.paths]

    def create_index_sql(self) -> str:
        # app_id last: the same index serves a search within one app and across all of them.
        columns = ", ".join([*self.expressions, "app_id"])
        return f"CREATE INDEX IF NOT EXISTS {self.index_name} ON docs ({columns}) WHERE kind = '{self.kind}'"


_LOOKUPS: dict[tuple[str, str], Lookup] = {}


def lookup(kind: str, name: str, *paths: str) -> Lookup:
    """Declare (once, at import) an indexed search of `kind` by the values at `paths`."""
    declared = Lookup(kind, name, paths)
    if _LOOKUPS.setdefault((kind, name), declared) != declared:
        raise ValueError(f"lookup {kind}/{name} declared twice with different paths")
    return declared


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        # RLock: a control may call a helper that itself takes the lock.
        self.lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (see transaction()).
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps WAL durable across a process crash (not a power cut): enough for an emulator.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self.conn.executescript(SCHEMA)
        self._indexed: set[str] = set()
        self.ensure_lookup_indexes()

    def ensure_lookup_indexes(self) -> None:
        """Create the index of every declared Lookup not yet indexed (builds it over existing documents)."""
        for declared in list(_LOOKUPS.values()):
            self._ensure_index(declared)

    def _ensure_index(self, declared: Lookup) -> None:
        if declared.index_name not in self._indexed:
            self.conn.execute(declared.create_index_sql())
            self._indexed.add(declared.index_name)

    # -- transactions -------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the lock and one SQLite transaction; commit on success, roll back on any error."""
        with self.lock:
            if self.conn.in_transaction:  # nested use (a control calling a helper): join the outer one
                yield self
                return
            self.conn.execute("BEGIN")
            try:
                yield self
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def reset(self) -> None:
        with self.lock:
            for table in TABLES:
                self.conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self.conn.execute("DELETE FROM sqlite_sequence")

    # -- ids ------------------------------------------------------------------

    @staticmethod
    def new_uuid() -> str:
        return str(uuid.uuid4())

    def next_int_id(self, kind: str) -> int:
        row = self.conn.execute(
            "INSERT INTO counters (kind, value) VALUES (?, 1) "
            "ON CONFLICT (kind) DO UPDATE SET value = value + 1 RETURNING value",
            (kind,),
        ).fetchone()
        value: int = row[0]
        return value

    def next_int_ids(self, kind: str, count: int) -> int:
        """Reserve `count` consecutive integer ids; returns the first."""
        row = self.conn.execute(
            "INSERT INTO counters (kind, value) VALUES (?, ?) "
            "ON CONFLICT (kind) DO UPDATE SET value = value + excluded.value RETURNING value",
            (kind, count),
        ).fetchone()
        last: int = row[0]
        return last - count + 1

    # -- documents -------------------------------------------------------------

    def insert(self, kind: str, id: str | int, doc: Doc, *, app_id: str | None = None) -> Doc:
        self.conn.execute(
            "INSERT INTO docs (kind, id, app_id, body) VALUES (?, ?, ?, ?)",
            (kind, str(id), app_id, json.dumps(doc, separators=(",", ":"))),
        )
        return doc

    def insert_many(self, kind: str, docs: Sequence[tuple[str | int, Doc]], *, app_id: str | None = None) -> int:
        """Insert (id, doc) pairs in one executemany, oldest first (seq follows the list's order).

        For bulk seeding: 100,000 rows take about a second, where one insert() per row
        through a request each would take minutes.
        """
        self.conn.executemany(
            "INSERT INTO docs (kind, id, app_id, body) VALUES (?, ?, ?, ?)",
            ((kind, str(id), app_id, json.dumps(doc, separators=(",", ":"))) for id, doc in docs),
        )
        return len(docs)

    def get(self, kind: str, id: str | int) -> Doc | None:
        row = self.conn.execute("SELECT body FROM docs WHERE kind = ? AND id = ?", (kind, str(id))).fetchone()
        return json.loads(row[0]) if row else None

    def load(self, kind: str, id: str | int) -> Doc:
        """A document that must exist (one just checked or stored): KeyError when it does not, like put()."""
        doc = self.get(kind, id)
        if doc is None:
            raise KeyError(f"{kind} {id} does not exist")
        return doc

    def get_or_404(self, kind: str, id: str | int, *, what: str) -> Doc:
        doc = self.get(kind, id)
        if doc is None:
            raise ApiError(404, "not-found", f"{what} not found")
        return doc

    def app_id_of(self, kind: str, id: str | int) -> str | None:
        row = self.conn.execute("SELECT app_id FROM docs WHERE kind = ? AND id = ?", (kind, str(id))).fetchone()
        return row[0] if row else None

    def put(self, kind: str, id: str | int, doc: Doc) -> Doc:
        cur = self.conn.execute(
            "UPDATE docs SET body = ? WHERE kind = ? AND id = ?",
            (json.dumps(doc, separators=(",", ":")), kind, str(id)),
        )
        if cur.rowcount != 1:
            raise KeyError(f"{kind} {id} does not exist")
        return doc

    def delete(self, kind: str, id: str | int) -> None:
        self.conn.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, str(id)))

    def list(self, kind: str, *, app_id: str | None = None) -> list[Doc]:
        """All documents of a kind, newest first; only the app's when app_id is given."""
        if app_id is None:
            rows = self.conn.execute("SELECT body FROM docs WHERE kind = ? ORDER BY seq DESC", (kind,))
        else:
            rows = self.conn.execute(
                "SELECT body FROM docs WHERE kind = ? AND app_id = ? ORDER BY seq DESC", (kind, app_id)
            )
        return [json.loads(r[0]) for r in rows]

    def find(
        self, by: Lookup, *values: str, app_id: str | None = None, oldest_first: bool = False
    ) -> builtins.list[Doc]:
        """The documents of `by.kind` whose values at `by.paths` equal `values`, newest first.

        Equality as Python's `==` on the stored JSON values: a string matches only a string.
        Only the app's when app_id is given.
        """
        if len(values) != len(by.paths):
            raise TypeError(f"lookup {by.kind}/{by.name} takes {len(by.paths)} value(s), got {len(values)}")
        self._ensure_index(by)
        where = " AND ".join(f"{expression} = ?" for expression in by.expressions)
        args: builtins.list[object] = list(values)
        if app_id is not None:
            where += " AND app_id = ?"
            args.append(app_id)
        order = "ASC" if oldest_first else "DESC"
        rows = self.conn.execute(
            # INDEXED BY: without statistics the planner may prefer walking docs_kind_seq in order,
            # which reads every document of the kind; this index (or an error) is what we mean.
            f"SELECT body FROM docs INDEXED BY {by.index_name} "  # noqa: S608 - checked literals
            f"WHERE kind = '{by.kind}' AND {where} ORDER BY seq {order}",
            args,
        )
        return [json.loads(r[0]) for r in rows]

    @overload
    def page(
        self,
        kind: str,
        *,
        app_id: str | None,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        raw: Literal[False] = False,
    ) -> tuple[builtins.list[Doc], bool]: ...

    @overload
    def page(
        self,
        kind: str,
        *,
        app_id: str | None,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        raw: Literal[True],
    ) -> tuple[builtins.list[str], bool]: ...

    def page(
        self,
        kind: str,
        *,
        app_id: str | None,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        raw: bool = False,
    ) -> tuple[builtins.list[Doc], bool] | tuple[builtins.list[str], bool]:
        """One newest-first page by keyset on `seq` (cost independent of the list's length).

        Returns (docs, has_more); with raw=True the docs are the stored JSON texts, unparsed.
        has_more means "more in the direction of travel": older after starting_after (and
        with no cursor), newer before ending_before.
        """
        where, args = "kind = ?", [kind]
        if app_id is not None:
            where += " AND app_id = ?"
            args.append(app_id)
        order = "DESC"
        cursor = starting_after or ending_before
        if cursor:
            row = self.conn.execute("SELECT seq FROM docs WHERE kind = ? AND id = ?", (kind, str(cursor))).fetchone()
            if row is None:
                name = "starting_after" if starting_after else "ending_before"
                raise ApiError(400, "invalid-input", f"{name} {cursor} is not an id in this list")
            if starting_after:
                where += " AND seq < ?"
            else:
                where += " AND seq > ?"
                order = "ASC"  # nearest newer ones first, flipped below
            args.append(row[0])
        rows = self.conn.execute(
            f"SELECT body FROM docs WHERE {where} ORDER BY seq {order} LIMIT ?",  # noqa: S608 - fixed fragments
            (*args, limit + 1),
        ).fetchall()
        has_more = len(rows) > limit
        bodies = [r[0] for r in rows[:limit]]
        if order == "ASC":
            bodies.reverse()
        return (bodies if raw else [json.loads(b) for b in bodies]), has_more

    def count(self, kind: str, *, app_id: str | None = None) -> int:
        n: int
        if app_id is None:
            n = self.conn.execute("SELECT COUNT(*) FROM docs WHERE kind = ?", (kind,)).fetchone()[0]
        else:
            n = self.conn.execute("SELECT COUNT(*) FROM docs WHERE kind = ? AND app_id = ?", (kind, app_id)).fetchone()[
                0
            ]
        return n

    def counts_by_kind(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT kind, COUNT(*) FROM docs GROUP BY kind ORDER BY kind"))

    # -- key/value settings ------------------------------------------------------

    def meta_get(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def meta_set(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def meta_delete(self, key: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    # -- idempotency -------------------------------------------------------------

    def idempotency_get(self, *, app_id: str, key: str, not_before: float) -> tuple[int, object] | None:
        row = self.conn.execute(
            "SELECT status, body FROM idempotency WHERE app_id = ? AND key = ? AND created_at >= ?",
            (app_id, key, not_before),
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def idempotency_put(self, *, app_id: str, key: str, created_at: float, status: int, body: object) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO idempotency (app_id, key, created_at, status, body) VALUES (?, ?, ?, ?, ?)",
            (app_id, key, created_at, status, json.dumps(body)),
        )
