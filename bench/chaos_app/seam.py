"""The chaos bench's task, declared like any app's, so the worker's allow-list runs it under the bench only."""

from core import registry

registry.task("chaos_bench", "tests.chaos_support.chaos_task")
