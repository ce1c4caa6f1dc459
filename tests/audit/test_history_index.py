"""Every audited write reads the object's previous history row: one index probe, however long
the object's history (core.history.TrackedHistoricalRecords)."""

import pytest
from django.apps import apps
from django.db import connection, transaction

from audit.receivers import _previous_row_reader
from core.history import HistoryContext
from customers import services
from customers.models import Customer
from tests.conftest import postgres_only
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

BY_OBJECT = ["id", "history_id"]


def test_every_history_table_is_indexed_by_object_and_row():
    historical = [model for model in apps.get_models() if issubclass(model, HistoryContext)]
    assert len(historical) >= 10
    for model in historical:
        assert BY_OBJECT in [list(index.fields) for index in model._meta.indexes], model
        assert not model._meta.get_field("id").db_index, f"{model}: the composite index serves"


@postgres_only
def test_the_previous_row_is_read_through_that_index(in_tenant):
    customer = CustomerFactory(tenant=in_tenant)
    for n in range(3):
        services.update_customer(
            customer=customer, changes={"first_name": f"Name{n}"}, by="system:test"
        )
    model = Customer.history.model
    latest = model.objects.filter(id=customer.pk).order_by("-history_id").first()
    sql, _attnames, _converters = _previous_row_reader(model)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: the index is the question
        cursor.execute(f"EXPLAIN {sql}", [latest.history_id, customer.pk])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    index = next(ix.name for ix in model._meta.indexes if list(ix.fields) == BY_OBJECT)
    assert index in plan and "Sort" not in plan, plan
