from django.urls import path


def api_path(route, view, name=None):
    """The route with and without a trailing slash: the contract makes the slash optional."""
    return [path(route, view, name=name), path(f"{route}/", view)]
