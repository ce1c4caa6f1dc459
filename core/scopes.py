"""API scopes: each app registers the scopes of its endpoints from AppConfig.ready(), so core
names no domain. Partner keys may hold only registered scopes (or `*`, all of them)."""

ALL_SCOPES = "*"

_scopes = {}  # scope -> what it allows, in registration order


def register_scopes(scopes):
    """Register `{scope: description}`; registering a scope again replaces its description."""
    for scope, description in scopes.items():
        if not scope or scope == ALL_SCOPES or scope != scope.strip():
            raise ValueError(f"Not a scope name: {scope!r}.")
        _scopes[scope] = description


def api_scopes():
    """The registered scopes, in registration order."""
    return tuple(_scopes)


def scope_choices():
    """(value, label) pairs for a form: `*` first, then each registered scope."""
    return [(ALL_SCOPES, "* (all scopes)")] + [
        (scope, f"{scope}: {description}") for scope, description in _scopes.items()
    ]
