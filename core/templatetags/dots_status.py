"""The "Dots unreachable" banner on every admin page, and the queued actions on a record's page."""

from django import template
from django.urls import NoReverseMatch, reverse

from core import action_queue, dots_health

register = template.Library()


@register.inclusion_tag("admin/core/dots_outage_banner.html", takes_context=True)
def dots_outage_banner(context):
    """At most one query per page, and none while the process's cached view is fresh."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"show": False}
    view = dots_health.read()
    if not view.in_outage:
        return {"show": False}
    url = ""
    if user.has_perm("core.view_queueddotsaction"):
        url = reverse("admin:core_queueddotsaction_changelist") + "?status__exact=waiting"
    return {"show": True, "text": dots_health.banner_text(view), "url": url}


@register.inclusion_tag("admin/core/queued_actions_notice.html", takes_context=True)
def queued_actions_notice(context, obj):
    """'Approve payable by approver: queued, waiting for Dots since 14:02' on the record's own page."""
    if obj is None or getattr(obj, "pk", None) is None or not hasattr(obj, "_meta"):
        return {"actions": []}
    actions = list(action_queue.active_for(obj).select_related("actor"))
    request = context.get("request")
    may_open = request is not None and request.user.has_perm("core.view_queueddotsaction")
    for action in actions:
        try:
            action.admin_url = reverse("admin:core_queueddotsaction_change", args=[action.pk]) if may_open else ""
        except NoReverseMatch:
            action.admin_url = ""
        action.since_text = dots_health.format_since(action.created_at)
    return {"actions": actions}
