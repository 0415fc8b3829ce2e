"""Ledgerline's Django-free Dots API v2 package: client, errors, webhooks, redaction.

``dots.emulator`` (a separate local server imitating Dots) lives beside it.
Import from the modules: ``from dots.client import DotsClient``.
"""
