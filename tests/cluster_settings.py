"""Settings for the worker clusters tests/core/test_two_clusters.py starts: the test settings, with a real queue.

config.settings_test runs tasks inline (`sync`) for tests that are not about the queue; these
clusters are, so tasks they enqueue go through Redis like any other.
"""

from config.settings_test import *  # noqa: F403
from config.settings_test import Q_CLUSTER

Q_CLUSTER = {**Q_CLUSTER, "sync": False}
