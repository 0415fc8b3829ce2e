"""Settings for the worker clusters tests/core/test_two_clusters.py starts: the test settings, with a real queue.

config.settings_test runs tasks inline (`sync`) for tests that are not about the queue; these
clusters are, so tasks they enqueue go through Redis like any other.
"""

import os

from config.settings_test import *  # noqa: F403
from config.settings_test import Q_CLUSTER

# The queue's own name (its Redis keys) for this test run only, so two runs on one Redis never take
# each other's tasks; the schedules the test makes name it too (django-q2 runs a schedule naming a
# cluster only in that cluster).
Q_CLUSTER = {**Q_CLUSTER, "sync": False, "cluster_name": os.environ["TEST_QUEUE_NAME"]}
