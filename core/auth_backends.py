from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LedgerlineModelBackend(ModelBackend):
    """Django's backend, except that demo logins work only while DEBUG is on."""

    def user_can_authenticate(self, user) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return not (not settings.DEBUG and is_demo_user(user))


def is_demo_user(user) -> bool:
    from core.models import DemoAccount

    return bool(getattr(user, "pk", None)) and DemoAccount.objects.filter(user_id=user.pk).exists()
