"""The date drill-down of the ledger's changelists, which must not scan millions of postings.

Django's `date_hierarchy` tag lists the years (months, days) that have rows with a
`SELECT DISTINCT` over every row of the selection. Here the same tag is given the selection's
first and last date only (MIN and MAX, two index look-ups) and offers every year, month or day
between them; one without rows simply shows an empty page.
"""

import datetime

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.db.models import Max, Min
from django.utils import timezone

register = template.Library()


def _as_date(value):
    if isinstance(value, datetime.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    return value


def _between(first, last, kind):
    """The first day of each year/month, or each day, from `first` to `last`."""
    if kind == "year":
        return [datetime.date(year, 1, 1) for year in range(first.year, last.year + 1)]
    if kind == "month":
        months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
        return [datetime.date(m // 12, m % 12 + 1, 1) for m in months]
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


class _DatesFromBounds:
    """Stands in for the changelist's queryset in Django's tag: `aggregate` (its MIN/MAX, kept)
    and `dates`/`datetimes` answered from those bounds."""

    def __init__(self, queryset):
        self._queryset = queryset
        self._bounds = None

    def aggregate(self, **aggregates):
        self._bounds = self._queryset.aggregate(**aggregates)
        return self._bounds

    def datetimes(self, field_name, kind):
        bounds = self._bounds or self.aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None:
            return []
        return _between(_as_date(bounds["first"]), _as_date(bounds["last"]), kind)

    dates = datetimes


class _ChangeList:
    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = _DatesFromBounds(changelist.queryset)

    def __getattr__(self, name):
        return getattr(self._changelist, name)


def bounded_date_hierarchy(changelist):
    return date_hierarchy(_ChangeList(changelist))


@register.tag(name="bounded_date_hierarchy")
def bounded_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=bounded_date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
