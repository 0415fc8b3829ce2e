"""The admin header's "My tasks (3)": what waits for the signed-in person, read at most once a request."""

from django.utils.functional import SimpleLazyObject

from notifications import selectors


def my_tasks(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}

    def build() -> dict:
        # Per request: the header and a page that asks again share one answer.
        found = getattr(request, "_my_tasks", None)
        if found is None:
            found = {"waiting": selectors.waiting_count(user), "unread": selectors.unread_count(user)}
            request._my_tasks = found
        return found

    return {"my_tasks": SimpleLazyObject(build)}
