"""Logging in to the back office the way a browser does: through the login form."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
LOGIN_URL = "/admin/login/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) LedgerlineTest/1.0"


def post_login(client, username, password=PASSWORD, token="", ip="198.51.100.7", agent=BROWSER):
    return client.post(
        LOGIN_URL,
        {"username": username, "password": password, "otp_token": token, "next": "/admin/"},
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT=agent,
    )


def logged_in(client):
    return SESSION_KEY in client.session


def browser():
    return Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT=BROWSER)


def session_exists(session_key):
    """Whether the server still holds the session (whatever SESSION_ENGINE is in use)."""
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore().exists(session_key)
