"""Factories shared by every test package."""

import factory
from django.contrib.auth import get_user_model

from core.context import system_scope
from core.models import StaffMembership, Tenant


class TenantRowFactory(factory.django.DjangoModelFactory):
    """Base of factories of tenant-scoped models. Arranging a test is not acting for a tenant:
    rows are built and saved in system scope (the write checks and row-level security refuse
    another tenant's row, or any row outside every scope), whatever scope the test is in."""

    class Meta:
        abstract = True

    @classmethod
    def _generate(cls, strategy, params):
        with system_scope():
            return super()._generate(strategy, params)


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Bank {n}")
    slug = factory.Sequence(lambda n: f"bank-{n}")
    default_currency = "EUR"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"clerk{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@bank.example")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
