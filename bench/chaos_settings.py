"""Settings for bench/chaos.py and the qcluster it starts: production settings plus the bench's own app.

The worker runs only tasks the installed apps declare (core.task_guard); the bench's jobs are a
task of its own, declared by bench/chaos_app/seam.py, installed here and nowhere else.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.chaos_app"]
