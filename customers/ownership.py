"""Ultimate beneficial owners: who, through any depth of shareholdings, owns a company.

A person's effective ownership of a company is the sum, over every distinct shareholder path from
the person down to the company, of the product of the percentages along the path (in a diamond,
each route counts). Companies are only intermediate nodes; natural persons are the owners.

Cost grows with the number of shareholder edges, never with the number of paths (a structure of
n layers, each company held half-and-half by two companies of the layer above, has 2^n paths):

- one query fetches every edge reachable upwards from the company (a recursive CTE whose `UNION`
  keeps each company once), whatever the depth;
- the edges form a DAG (the services refuse cycles), so in topological order each company's
  share of the target is final before it is passed on to its owners: one visit per company and
  one multiplication per edge. The number of paths reaching each company is counted the same way;
- paths are listed by a walk down from the owner that only follows edges leading to the target,
  so it stops after at most MAX_PATHS paths whatever their number.

There is no depth limit: totals are exact at any depth, and `paths_truncated` says when an owner
has more paths than are listed.
"""

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, Inexact, localcontext

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core.errors import RuleViolation
from customers.models import Customer, CustomerRelationship
from customers.rules import in_force

logger = logging.getLogger(__name__)

# Paths listed per owner. The sums always count every path.
MAX_PATHS = 50

# A percentage has at most 4 decimals and is at most 100, so a fraction (percent / 100) has at
# most 6 decimals and is at most 1: a product along a path of k edges needs at most 6k + 1
# digits, and no path has more edges than there are companies. With `Inexact` trapped, any
# rounding would raise instead of silently changing a figure.
_DIGITS_PER_EDGE = 6
_PRECISION_MARGIN = 50


@dataclass(frozen=True)
class BeneficialOwner:
    customer: Customer  # an individual
    effective_ownership: Decimal  # percent, exact
    paths: list[list[str]]  # each a list of references from the owner down to the company
    paths_truncated: bool = False  # True when more paths exist than were listed
    path_count: int = 0  # how many paths there are in all


def beneficial_owners(*, company, threshold=None, on=None) -> list[BeneficialOwner]:
    """The individuals owning at least `threshold` percent of `company` (default
    `settings.UBO_THRESHOLD_PERCENT`) through shareholdings active on `on` (default today).

    Largest ownership first, ties by reference; at most MAX_PATHS paths listed per owner.
    """
    if company.type != Customer.Type.BUSINESS:
        raise RuleViolation(
            f"{company.reference} is an individual; only a business has beneficial owners."
        )
    threshold = _to_decimal(settings.UBO_THRESHOLD_PERCENT if threshold is None else threshold)
    graph = _OwnershipGraph(company, ownership_edges(company=company, on=on))
    with localcontext() as ctx:
        ctx.prec = _DIGITS_PER_EDGE * len(graph.companies_in_order) + _PRECISION_MARGIN
        ctx.traps[Inexact] = True
        shares, path_counts = graph.shares_and_path_counts()
        owners = []
        for person in graph.people.values():
            percent = _exact(shares[person.pk].scaleb(2))
            if percent >= threshold:
                paths = graph.paths(person.pk, limit=MAX_PATHS)
                count = path_counts[person.pk]
                owners.append(BeneficialOwner(person, percent, paths, count > len(paths), count))
    owners.sort(key=lambda o: (-o.effective_ownership, o.customer.reference))
    return owners


class _OwnershipGraph:
    """The shareholder edges above one company, as a DAG walked in topological order."""

    def __init__(self, company, edges):
        self.company = company
        self.people = {}  # id -> individual owner reached
        self.references = {company.pk: company.reference}
        owners_of = defaultdict(list)  # owned company id -> its shareholder edges
        for edge in edges:
            owners_of[edge.customer_id].append(edge)
            self.references[edge.related_customer_id] = edge.related_customer.reference
        self.companies_in_order, self.edges = self._topological(owners_of)
        self.holdings = defaultdict(list)  # owner id -> ids of the companies it holds, in order
        for edge in self.edges:
            self.holdings[edge.related_customer_id].append(edge.customer_id)
        for held in self.holdings.values():
            held.sort(key=self.references.__getitem__)

    def _topological(self, owners_of):
        """The companies reachable upwards from the company, each before the companies owning
        it (reverse post-order of a depth-first walk, without recursion so any depth is fine),
        and the edges walked. An edge back into a company on the current walk closes a cycle:
        the services refuse those, so one in the data is corrupt; it is left out and logged
        rather than followed for ever."""
        on_walk, done, post_order, edges = {self.company.pk}, set(), [], []
        stack = [(self.company.pk, iter(owners_of.get(self.company.pk, ())))]
        while stack:
            node, pending = stack[-1]
            for edge in pending:
                owner = edge.related_customer
                if owner.pk in on_walk:
                    logger.warning("Ownership cycle: shareholding %s not followed.", edge.pk)
                    continue
                edges.append(edge)
                if owner.type == Customer.Type.INDIVIDUAL:
                    # A person is an end owner: shares held *in* a person are not followed.
                    self.people[owner.pk] = owner
                elif owner.pk not in done:
                    on_walk.add(owner.pk)
                    stack.append((owner.pk, iter(owners_of.get(owner.pk, ()))))
                    break
            else:
                stack.pop()
                on_walk.discard(node)
                done.add(node)
                post_order.append(node)
        return post_order[::-1], edges

    def shares_and_path_counts(self):
        """{id: fraction of the company held through every path} and {id: number of paths},
        for every company and person above it: one multiplication per edge."""
        by_owned = defaultdict(list)
        for edge in self.edges:
            by_owned[edge.customer_id].append(edge)
        shares, counts = defaultdict(Decimal), defaultdict(int)
        shares[self.company.pk], counts[self.company.pk] = Decimal(1), 1
        for node in self.companies_in_order:  # each final before it is passed on
            for edge in by_owned[node]:
                owner = edge.related_customer_id
                shares[owner] += shares[node] * edge.ownership_percentage.scaleb(-2)
                counts[owner] += counts[node]
        return shares, counts

    def paths(self, person_id, *, limit):
        """Up to `limit` paths (references, owner first) from `person_id` down to the company,
        in order. Every edge walked leads down to the company, so each path found costs at
        most its length in steps, however many paths there are."""
        found, trail, pending = [], [person_id], [iter(self.holdings[person_id])]
        while pending and len(found) < limit:
            node = next(pending[-1], None)
            if node is None:
                pending.pop()
                trail.pop()
            elif node == self.company.pk:
                found.append([self.references[pk] for pk in (*trail, node)])
            else:
                trail.append(node)
                pending.append(iter(self.holdings[node]))
        return found


def ownership_edges(*, company, on=None) -> list[CustomerRelationship]:
    """Every shareholder edge active on `on` (default today) reachable upwards from `company`,
    with `related_customer` loaded: one query, whatever the depth."""
    on = on or timezone.localdate()
    # Only identifiers from model metadata are formatted into the SQL; values are parameters.
    reachable = RawSQL(*_reachable_owners_sql(start=company, on=on))  # noqa: S611
    active = _active_q(on)
    return list(
        CustomerRelationship.objects.filter(
            active,
            tenant_id=company.tenant_id,
            customer_id__in=reachable,
        ).select_related("related_customer")
    )


def would_create_cycle(*, company, owner) -> bool:
    """Would recording "`owner` holds shares of `company`" close an ownership loop?

    True if `owner` is `company`, or `company` already owns `owner` directly or indirectly.
    Counts live shareholder edges that have not ended, including ones starting in the future
    (they will be in force later, and a loop must never come into force).
    """
    if owner.pk == company.pk:
        return True
    reachable = RawSQL(  # noqa: S611 (identifiers from metadata, values as parameters)
        *_reachable_owners_sql(start=owner, on=timezone.localdate(), include_future=True)
    )
    # `all_objects`: tenant-scoped (fails closed with no tenant) but not hiding deleted rows.
    return Customer.all_objects.filter(pk=company.pk, pk__in=reachable).exists()


# --- internals --------------------------------------------------------------------------------


def _active_q(on):
    # `objects` already hides deleted rows
    return Q(type=CustomerRelationship.Type.SHAREHOLDER) & in_force(on)


def _reachable_owners_sql(*, start, on: datetime.date, include_future=False):
    """SQL and params of a query listing `start` and every customer reachable from it by
    following active shareholder edges upwards (from owned to owner), within start's tenant.

    `UNION` (not `UNION ALL`) drops ids already reached, so the recursion stops even on a cycle.
    """
    qn = connection.ops.quote_name
    rel_meta = CustomerRelationship._meta
    rel = qn(rel_meta.db_table)
    customer_table = qn(Customer._meta.db_table)
    pk = qn(Customer._meta.pk.column)

    def col(name):
        return "r." + qn(rel_meta.get_field(name).column)

    on_param = connection.ops.adapt_datefield_value(on)
    # Seeded from the customer table (not a bare parameter) so that the column type is the
    # table's id type on every backend, as PostgreSQL requires of a recursive CTE.
    # Only quoted identifiers are formatted in; every value is a parameter.
    sql = (
        f"WITH RECURSIVE ubo_reach (id) AS ("  # noqa: S608
        f" SELECT c.{pk} FROM {customer_table} c WHERE c.{pk} = %s"
        f" UNION"
        f" SELECT {col('related_customer')} FROM {rel} r"
        f" JOIN ubo_reach ON {col('customer')} = ubo_reach.id"
        f" WHERE {col('tenant')} = %s AND {col('type')} = %s"
        f" AND {col('deleted_at')} IS NULL"
        # rules.in_force, in SQL: a recursive CTE's join cannot take the ORM's Q.
        f" AND ({col('ended_on')} IS NULL OR {col('ended_on')} > %s)"
    )
    params = [start.pk, start.tenant_id, CustomerRelationship.Type.SHAREHOLDER.value, on_param]
    if not include_future:
        sql += f" AND ({col('started_on')} IS NULL OR {col('started_on')} <= %s)"
        params.append(on_param)
    sql += ") SELECT id FROM ubo_reach"
    return sql, params


def _to_decimal(value):
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))  # str() first: a float threshold means its printed value


def _exact(value: Decimal) -> Decimal:
    """The same number without trailing zeros (40, not 40.000000000000); whole numbers keep
    their digits (100, not 1E+2). Very small fractions may normalise to exponent form; the API
    prints them in plain notation (`core.decimals.plain_decimal`)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
