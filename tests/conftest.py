import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client

from core.context import system_scope, tenant_context
from core.db.rls import current_role
from core.services import issue_partner_key
from tests.factories import StaffMembershipFactory, TenantFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL the suite acts as the app's ordinary role, so that row-level security
    applies to it as in production: the test database is created and migrated as
    DATABASE_URL's role (superuser or owner), then every connection does SET ROLE to
    TEST_APP_ROLE (created here when missing, with the privileges the app has in production,
    plus TRUNCATE for the flush between transactional tests)."""
    if connection.vendor != "postgresql":
        yield
        return
    with django_db_blocker.unblock():
        _grant_app_role(settings.TEST_APP_ROLE)
        _assume_role(settings.TEST_APP_ROLE)
    yield
    with django_db_blocker.unblock():
        _assume_role(None)  # the creating role drops the test database


def _grant_app_role(role):
    quoted = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {quoted} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public "
            f"TO {quoted}"
        )
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}")


def _assume_role(role):
    options = connection.settings_dict["OPTIONS"]
    if role:
        options["assume_role"] = role
    else:
        options.pop("assume_role", None)
    connection.close()
    if connection.pool is not None:
        connection.close_pool()  # pooled connections were configured without SET ROLE


@pytest.fixture
def app_role(db):
    """The role the suite acts as; fails (never skips) when PostgreSQL would not apply row-level
    security to it, since every RLS test would then pass for the wrong reason."""
    role = current_role(connection)
    assert not role.bypasses_rls, role.warning()
    return role


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Hashing a password at production cost is most of a login test's time; tests of the
    hasher itself do not exist, so every test uses the cheap one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Harbour Savings", slug="harbour")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Northwind Lending", slug="northwind")


@pytest.fixture
def in_tenant(tenant):
    """Run the test body as the `tenant` (services and managers then see only its rows)."""
    with tenant_context(tenant):
        yield tenant


@pytest.fixture
def in_system_scope(db):
    with system_scope():
        yield


class ApiClient:
    """A test client that sends the bearer key and JSON bodies."""

    def __init__(self, raw_key):
        self.client = Client()
        self.raw_key = raw_key

    def _headers(self, headers):
        base = {"Authorization": f"Bearer {self.raw_key}"} if self.raw_key else {}
        return {**base, **(headers or {})}

    def get(self, path, params=None, headers=None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def _send(self, method, path, body, headers):
        return getattr(self.client, method)(
            path, body, content_type="application/json", headers=self._headers(headers)
        )

    def post(self, path, body=None, headers=None):
        return self._send("post", path, body or {}, headers)

    def patch(self, path, body=None, headers=None):
        return self._send("patch", path, body or {}, headers)

    def delete(self, path, headers=None):
        return self.client.delete(path, headers=self._headers(headers))


def make_api_client(tenant, scopes=("*",)):
    with system_scope():
        _key, raw_key = issue_partner_key(tenant=tenant, name="Test partner", scopes=list(scopes))
    return ApiClient(raw_key)


@pytest.fixture
def api(tenant):
    """An API client holding an all-scopes key of `tenant`."""
    return make_api_client(tenant)


@pytest.fixture
def other_api(other_tenant):
    return make_api_client(other_tenant)


@pytest.fixture
def staff_client(tenant):
    """A logged-in back-office user of `tenant` with every domain permission."""
    membership = StaffMembershipFactory(tenant=tenant, user__username="hana")
    membership.user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["core", "customers", "accounts", "lending", "audit"]
        )
    )
    client = Client()
    client.force_login(membership.user)
    client.user = membership.user
    return client


def analyze_as_owner(table):
    """ANALYZE needs the table's owner: the suite acts as the app role (SET ROLE), which
    PostgreSQL would skip with a warning, leaving the planner without statistics."""
    app_role = connection.settings_dict["OPTIONS"].get("assume_role")
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        try:
            cursor.execute(f"ANALYZE {table}")
        finally:
            if app_role:
                cursor.execute(f'SET ROLE "{app_role}"')
