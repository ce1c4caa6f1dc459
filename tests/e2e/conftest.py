"""The browser suite: Playwright for Python driving the system's Chromium (Debian's `chromium`
package; Playwright's own browser download is not used). Skipped, with the reason, where no
such browser is installed; `.ci/run` installs it.

Screenshots of every step land in tests/e2e/screenshots/ (git-ignored) for a human to look at.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from core.context import tenant_context
from tests.factories import StaffMembershipFactory, TenantFactory

SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct-horse-battery"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Quiet, headless and offline: no sandbox (CI runs as root in a container), no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A back-office screen: changelists must fit it without wrapping or cutting columns.
VIEWPORT = {"width": 1400, "height": 900}

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - requirements-dev.txt pins it
    sync_playwright = None

SKIP_REASON = (
    "browser suite skipped: no Chromium on PATH (Debian: apt-get install chromium; "
    ".ci/run installs it)"
    if CHROMIUM is None
    else "browser suite skipped: playwright is not installed (pip install -r requirements-dev.txt)"
    if sync_playwright is None
    else ""
)


def pytest_collection_modifyitems(config, items):
    if not SKIP_REASON:
        return
    if os.environ.get("E2E_REQUIRED"):  # CI: a browser suite that silently skips proves nothing
        raise pytest.UsageError(SKIP_REASON.replace("skipped", "required (E2E_REQUIRED)"))
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Playwright's sync API keeps an asyncio loop running in
    this thread, which Django's async-safety check would take for async code calling the ORM:
    the check is off while the browser runs (the live server answers from its own thread)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.shots = Shots(page, request.node.name)
    yield page
    context.close()


class Shots:
    """Numbered full-page screenshots of one test, for review (tests/e2e/screenshots/)."""

    def __init__(self, page, test_name):
        self.page, self.test_name, self.count = page, test_name, 0
        SCREENSHOTS.mkdir(exist_ok=True)
        for old in SCREENSHOTS.glob(f"{test_name}-*.png"):
            old.unlink()

    def __call__(self, step):
        self.count += 1
        path = SCREENSHOTS / f"{self.test_name}-{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)


def clerk(tenant, username):
    """A back-office user of `tenant` with the permissions of a clerk: customers, partner keys."""
    membership = StaffMembershipFactory(tenant=tenant, user__username=username)
    membership.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["customers", "core"])
    )
    return membership.user


@pytest.fixture
def banks(transactional_db):
    """Two banks, a clerk in each."""
    harbour = TenantFactory(name="Harbour Savings", slug="harbour")
    northwind = TenantFactory(name="Northwind Lending", slug="northwind")
    return harbour, northwind, clerk(harbour, "hana"), clerk(northwind, "noah")


@pytest.fixture
def harbour(banks):
    with tenant_context(banks[0]):
        yield banks[0]


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def pytest_terminal_summary(terminalreporter):
    """Say why the browser suite did not run, even without `-rs`."""
    if SKIP_REASON:
        terminalreporter.write_line(SKIP_REASON, yellow=True)
