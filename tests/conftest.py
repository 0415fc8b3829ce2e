"""Root fixtures shared by every test package.

The Dots emulator fixtures live in their own plugin module so the Django-free
client and emulator tests and the Django app tests start the same server.
"""

pytest_plugins = ["tests.fixtures_emulator", "tests.fixtures_app", "tests.fixtures_payables", "tests.outage_support"]
