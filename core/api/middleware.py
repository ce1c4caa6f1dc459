"""Under /api/, every error is problem+json: unknown paths, denied access, unexpected crashes."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404

from core.api.problems import PROBLEM_CONTENT_TYPE, problem_response
from core.middleware import API_PREFIX

logger = logging.getLogger("ledgerline.api")


def is_api_request(request):
    return request.path.startswith(API_PREFIX)


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and is_api_request(request)
            and response.get("Content-Type") != PROBLEM_CONTENT_TYPE
        ):
            # An unknown path: with DEBUG on Django answers its technical page, not handler404.
            return problem_response(404, f"No endpoint at {request.path}.", request=request)
        return response

    def process_exception(self, request, exception):
        if not is_api_request(request):
            return None
        if isinstance(exception, Http404):
            return problem_response(404, "Not found.", request=request)
        if isinstance(exception, PermissionDenied):
            return problem_response(403, "Forbidden.", request=request)
        logger.exception("Unhandled error in %s %s", request.method, request.path)
        return internal_error(request)


def internal_error(request):
    return problem_response(
        500,
        "Something went wrong on our side. Quote the request id to support.",
        request=request,
    )


def not_found(request, exception=None):
    """handler404: problem+json under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return problem_response(404, f"No endpoint at {request.path}.", request=request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    """handler500: problem+json under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return internal_error(request)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)
