"""Deploy checks of staff security: `manage.py check --deploy` fails on an unsafe SECRET_KEY."""

from django.conf import settings
from django.core.checks import Error, Tags, register

# Values that are published (in .env.example, settings.py, pyproject.toml, docs) or that
# people type when they mean "later": a key anyone can read signs anyone's session.
KNOWN_PLACEHOLDERS = {
    "change-me-to-50-or-more-random-characters-from-a-secret-store",  # .env.example
    "insecure-local-development-key-never-use-in-production",  # DEBUG fallback
    "test-only-secret-key-not-for-any-deployment-0123456789",  # the test suite's
}
UNSAFE_WORDS = ("change-me", "changeme", "placeholder", "insecure", "not-for-any-deployment")
MIN_LENGTH = 50
MIN_DISTINCT = 5


def secret_key_problem(key):
    """Why `key` must not sign a production deployment's sessions, or None."""
    lowered = key.lower()
    if key in KNOWN_PLACEHOLDERS or any(word in lowered for word in UNSAFE_WORDS):
        return "is a published placeholder"
    if len(key) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if len(set(key)) < MIN_DISTINCT:
        return f"has fewer than {MIN_DISTINCT} distinct characters"
    return None


@register(Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs):
    problem = secret_key_problem(settings.SECRET_KEY)
    if problem is None:
        return []
    return [
        Error(
            f"SECRET_KEY {problem}: anyone who knows it can forge sessions and password-reset "
            "links.",
            hint="Set SECRET_KEY to 50+ random characters from a secret store: python3 -c "
            '"import secrets; print(secrets.token_urlsafe(50))"',
            id="ledgerline.E001",
        )
    ]
