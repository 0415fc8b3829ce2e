"""A paginator for tables that grow to millions of rows.

Django's admin counts the whole queryset with COUNT(*) (twice per page unless
`show_full_result_count` is off); over a million rows that alone costs more than
rendering the page. This paginator counts at most COUNT_CAP rows
(`SELECT COUNT(*) FROM (SELECT ... LIMIT cap)`), so page 1 costs the same at a
thousand rows and at a million, and always in one query. Past the cap the list
says "10,000+" and people narrow it with filters (date range, actor, ...).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    # The admin pages it a queryset; counting with a LIMIT needs one.
    object_list: QuerySet[Model]
    count_cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.count_cap + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count > self.count_cap
