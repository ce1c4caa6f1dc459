"""Ultimate beneficial owners: who, through any depth of shareholdings, owns a company.

A person's effective ownership of a company is the sum, over every distinct shareholder path from
the person down to the company, of the product of the percentages along the path (in a diamond,
each route counts). Companies are only intermediate nodes; natural persons are the owners.

All reachable shareholder edges are fetched in one query (a recursive CTE giving the reachable
owner ids, embedded in an ORM query), whatever the depth; the sums and paths are then computed in
Python.
"""

import datetime
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

# Longest path walked, in shareholder edges. Real structures are a handful of levels deep.
# Owners found only beyond it are not reported.
MAX_DEPTH = 25
# Paths listed per owner, and steps spent looking for them: a layered structure of n levels of
# two companies holding each other has 2^n paths, which no reader needs and no server can list.
MAX_PATHS = 50
MAX_PATH_STEPS = 20_000

# Each percentage has at most 7 significant digits (max_digits=7), so a product along a path of
# MAX_DEPTH edges needs at most 7 * MAX_DEPTH digits; with margin for the sums, and `Inexact`
# trapped, any rounding would raise instead of silently changing a figure.
_PRECISION = 7 * MAX_DEPTH + 50

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class BeneficialOwner:
    customer: Customer  # an individual
    effective_ownership: Decimal  # percent, exact
    paths: list[list[str]]  # each a list of references from the owner down to the company
    paths_truncated: bool = False  # True when more paths exist than were listed


def beneficial_owners(*, company, threshold=None, on=None) -> list[BeneficialOwner]:
    """The individuals owning at least `threshold` percent of `company` (default
    `settings.UBO_THRESHOLD_PERCENT`) through shareholdings active on `on` (default today).

    Largest ownership first, ties by reference. The percentages are summed per company, once
    each (the work grows with the number of edges, not of paths); the paths, which can grow
    exponentially in a layered structure, are listed up to a budget.
    """
    if company.type != Customer.Type.BUSINESS:
        raise RuleViolation(
            f"{company.reference} is an individual; only a business has beneficial owners."
        )
    threshold = _to_decimal(settings.UBO_THRESHOLD_PERCENT if threshold is None else threshold)
    edges_by_company = defaultdict(list)
    for edge in ownership_edges(company=company, on=on):
        edges_by_company[edge.customer_id].append(edge)

    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ctx.traps[Inexact] = True
        shares, people = _shares_by_person(company, edges_by_company)
        owners = []
        for pk, share in shares.items():
            percent = _exact(share * _HUNDRED)
            if percent >= threshold:
                paths, truncated = _paths(company, pk, edges_by_company)
                owners.append(BeneficialOwner(people[pk], percent, paths, truncated))
    owners.sort(key=lambda o: (-o.effective_ownership, o.customer.reference))
    return owners


def _shares_by_person(company, edges_by_company):
    """{person id: fraction of `company` held through every path}, and the people by id.

    Memoised per company; an edge back into a company on the current walk (a cycle in the
    data, which the services refuse) is not followed, so the walk always ends.
    """
    memo, people = {}, {}

    def held(node_id, on_walk):
        """(shares, complete): complete unless the depth cap or a cycle cut the walk, in which
        case the result depends on the route taken and is not remembered."""
        if node_id in memo:
            return memo[node_id], True
        result, complete = defaultdict(Decimal), len(on_walk) <= MAX_DEPTH
        if complete:
            for edge in edges_by_company.get(node_id, ()):
                owner, fraction = edge.related_customer, edge.ownership_percentage / _HUNDRED
                if owner.type == Customer.Type.INDIVIDUAL:
                    # A person is an end owner: shares held *in* a person are not followed.
                    people[owner.pk] = owner
                    result[owner.pk] += fraction
                elif owner.pk in on_walk:
                    complete = False
                else:
                    shares, owner_complete = held(owner.pk, on_walk | {owner.pk})
                    complete = complete and owner_complete
                    for person, share in shares.items():
                        result[person] += fraction * share
        if complete:
            memo[node_id] = result
        return result, complete

    return held(company.pk, frozenset({company.pk}))[0], people


def _paths(company, person_id, edges_by_company):
    """The paths (references, owner first) by which `person_id` holds `company`, at most
    MAX_PATHS of them, found within MAX_PATH_STEPS steps; and whether the list is cut short."""
    found, steps, truncated = [], 0, False

    def walk(node_id, refs, on_path):
        nonlocal steps, truncated
        for edge in edges_by_company.get(node_id, ()):
            steps += 1
            if len(found) >= MAX_PATHS or steps > MAX_PATH_STEPS:
                truncated = True
                return
            owner = edge.related_customer
            if owner.pk == person_id:
                found.append([owner.reference, *refs])
            elif (
                owner.type == Customer.Type.BUSINESS
                and owner.pk not in on_path
                and len(on_path) <= MAX_DEPTH
            ):
                walk(owner.pk, [owner.reference, *refs], on_path | {owner.pk})

    walk(company.pk, [company.reference], frozenset({company.pk}))
    return sorted(found), truncated


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
