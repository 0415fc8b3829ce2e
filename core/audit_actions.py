"""Every audit action name, with how it reads in the audit history.

`audit.record` refuses a name that is not here, so a typo cannot create a new kind
of event that no filter knows about. Apps add their actions as they are built.
"""

ACTIONS: dict[str, str] = {
    # Sign-in and accounts
    "user.logged_in": "Signed in",
    "user.logged_out": "Signed out",
    "user.login_failed": "Sign-in failed",
    "user.otp_failed": "Wrong authenticator code",
    "user.two_factor_enabled": "Two-factor sign-in set up",
    "user.two_factor_disabled": "Two-factor sign-in removed",
    "user.created": "User created",
    "user.updated": "User updated",
    "user.deleted": "User deleted",
    "group.created": "Role created",
    "group.updated": "Role updated",
    "group.deleted": "Role deleted",
    "audit.exported": "Audit history exported",
    "record.created": "Created",
    "record.updated": "Updated",
    "record.deleted": "Deleted",
}


def label_for(action: str) -> str:
    return ACTIONS.get(action, action)
