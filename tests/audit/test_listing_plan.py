"""The log is listed newest first by (occurred_at, id), through indexes that lead with the tenant
and end in that order: a page never walks the whole table (other tenants' rows too) in id order
looking for this tenant's rows, the plan PostgreSQL chose when the log was ordered by id and a
bigger neighbour's events were newer (70 ms a page at a million events, bench/audit.py)."""

import datetime
import re

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from audit.selectors import ORDERING, audit_events
from core.api.pagination import keyset_after
from core.context import tenant_context
from tests.conftest import analyze_as_owner, postgres_only

pytestmark = pytest.mark.django_db

FILTERS = [["resource_type", "resource_id"], ["action"], ["actor"], ["channel"]]

SEED = """
INSERT INTO audit_auditevent (tenant_id, occurred_at, action, resource_type, resource_id,
    actor, channel, request_id, user_agent, changes, related, xid)
SELECT %(tenant)s, %(until)s - (%(count)s - g) * interval '1 second',
    (ARRAY['create', 'update', 'soft_delete'])[1 + g %% 3],
    'customers.customer', 'CUS-' || (g %% 500), 'user:clerk' || (g %% 7),
    (ARRAY['admin', 'api', 'command', 'command'])[1 + g %% 4], '', '', '{}', '[]', 0
FROM generate_series(1, %(count)s) AS g
"""


def test_every_filter_has_an_index_leading_with_the_tenant_and_ending_in_the_order():
    """Directly before the order: the filter (or, for a resource, its type and id together).
    `resource_type` alone has none: it reads the time index and filters (fine for common
    types; a rare type sorts its few rows)."""
    order = [field.lstrip("-") for field in ORDERING]
    indexes = [list(index.fields) for index in AuditEvent._meta.indexes]
    for filters in FILTERS:
        assert ["tenant", *filters, *order] in indexes, filters
    assert ["tenant", *order] in indexes  # no filter, or a time range only


@postgres_only
@pytest.mark.parametrize(
    "filters",
    [
        {"action": "soft_delete", "channel": "api"},
        {"occurred_from": "six hours ago"},
        {"actor": "user:clerk3", "occurred_from": "six hours ago"},
        {},
        {"action": "update", "after": "a page that ended an hour ago"},
    ],
)
def test_a_page_reads_only_the_tenants_index_range(tenant, other_tenant, filters):
    now = timezone.now()
    # This tenant's events are older; a neighbour's, twice as many, came after them.
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(SEED, {"tenant": tenant.pk, "count": 20_000, "until": now})
    with tenant_context(other_tenant), connection.cursor() as cursor:
        later = SEED.replace("%(until)s -", "%(until)s +")
        cursor.execute(later, {"tenant": other_tenant.pk, "count": 40_000, "until": now})
    analyze_as_owner("audit_auditevent")
    if "occurred_from" in filters:
        filters = {**filters, "occurred_from": now - datetime.timedelta(hours=6)}
    after = filters.pop("after", None)
    with tenant_context(tenant):
        page = audit_events(**filters).order_by(*ORDERING)
        if after:
            page = page.filter(keyset_after(ORDERING, [now - datetime.timedelta(hours=1), 10**9]))
        plan = page[:50].explain()
    assert "audit_auditevent_pkey" not in plan, plan
    assert re.search(r"Index Cond: \(+tenant_id = ", plan), plan
    if after:  # the page starts where the last one ended, not at the newest event
        assert re.search(r"Index Cond: .*occurred_at <= ", plan), plan
