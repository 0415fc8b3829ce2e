"""How a person is named on pages, in emails and in audit wording: their full name, else their username."""

from __future__ import annotations

from django.contrib.auth.models import User


def full_name(user: User | None, *, nobody: str = "someone") -> str:
    """ "Avery Approver", or "avery" for someone with no name given; `nobody` when there is no one."""
    if user is None:
        return nobody
    return user.get_full_name() or user.get_username()
