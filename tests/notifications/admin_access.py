"""Who may open which admin pages of the notifications app (merged by tests/core/test_roles.py).

Nobody opens the standard pages of notifications: each person reaches their own through "My tasks"
(tests/core/test_access_matrix.py lists those pages as open to every staff member).
"""

from notifications.models import Notification
from tests.support import make_user

EXPECTED: dict[str, dict[str, set[str]]] = {"notifications.notification": {}}

INSTANCE_FACTORIES = {
    "notifications.notification": lambda: Notification.objects.create(
        recipient=make_user("notified-person"), event="payable.approved", title="INV-1 was approved"
    ),
}
