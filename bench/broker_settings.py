"""Settings for bench/broker.py and the qcluster it starts: production settings plus the bench's own app.

The cluster's name (the queue's key in the ORM table and in Redis) comes from BENCH_Q_NAME, so
a run never takes tasks another process queued under "ledgerline" on the same Redis.
BENCH_SAVE_LIMIT overrides `save_limit`; BENCH_STOCK_ORM=1 runs django-q2's own ORM broker,
BENCH_STOCK_REDIS=1 its own Redis broker.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, Q_CLUSTER

INSTALLED_APPS = [*INSTALLED_APPS, "bench.broker_app"]
Q_CLUSTER = {**Q_CLUSTER, "name": os.environ.get("BENCH_Q_NAME", "ledgerline-bench-broker")}
if os.environ.get("BENCH_STOCK_ORM"):  # django-q2's own ORM broker, for comparison
    Q_CLUSTER.pop("broker_class", None)
if os.environ.get("BENCH_STOCK_REDIS"):  # django-q2's own Redis broker, for comparison with ours
    Q_CLUSTER.pop("broker_class", None)
if os.environ.get("BENCH_SAVE_LIMIT"):
    Q_CLUSTER["save_limit"] = int(os.environ["BENCH_SAVE_LIMIT"])
