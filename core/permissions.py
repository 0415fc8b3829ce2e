"""One check every state-changing service makes first: may this person do this at all?

`require_perm(actor, "payables.approve_payable", "approve payables")` refuses with
`PermissionRefused` ("Your role does not allow you to approve payables.") unless the
user is active and holds the permission now. The action queue runs actions as the user
who asked, so a role taken away after queueing refuses the action when it runs.

Segregation of duties (the creator of a payable does not approve or pay it) is not a
permission: each service checks it for everyone, superusers included.
"""

from __future__ import annotations

from typing import Any

from core.errors import PermissionRefused


def is_system_user(actor: Any) -> bool:
    from core.audit import SYSTEM_USERNAME

    return bool(actor is not None and actor.get_username() == SYSTEM_USERNAME and not actor.has_usable_password())


def require_perm(actor: Any, perm: str, doing: str) -> None:
    """Refuse unless `actor` is an active user who holds `perm` ("app_label.codename").

    The named system user (core.audit.system_user: inactive, no password, nobody signs in
    as it) does the work the software does on its own: syncs, reconciliation, a payout run
    a Payer approved. It passes; a person's action never runs as it (tasks carry the id
    of the person who asked, and the queue runs each action as its user).
    """
    if is_system_user(actor):
        return
    if not getattr(actor, "is_active", False):
        raise PermissionRefused(f"Your account is deactivated, so you may not {doing}.")
    if not actor.has_perm(perm):
        raise PermissionRefused(f"Your role does not allow you to {doing}.")
