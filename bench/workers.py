"""Issue #17's worker bench: 2,000 no-op tasks through a real qcluster on PostgreSQL, for each queue.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline_bench_broker .venv/bin/python bench/workers.py

The same measure as bench/broker.py (issue #18 §4), whose options it takes, with issue #17's
size and django-q2's own Redis broker beside ours: tasks per second for the database queue, our
Redis queue (which keeps each task until acknowledged) and django-q2's, with the
`CONN_MAX_AGE` the README recommends (the production settings').
"""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    given = sys.argv[1:]
    defaults = ([] if "--tasks" in given else ["--tasks", "2000"]) + (
        [] if "--with-stock-redis" in given else ["--with-stock-redis"]
    )
    sys.argv = [sys.argv[0], *defaults, *given]
    runpy.run_path(str(Path(__file__).with_name("broker.py")), run_name="__main__")
