"""Requests refused or repaired before any view sees them, for every path (admin, API, health).

- A NUL character anywhere in the query string: PostgreSQL cannot store or compare text that
  holds one, so any filter, search, ordering or page parameter carrying it would end in a 500
  from the database. One check here covers every changelist, date hierarchy and endpoint.
  (Invalid UTF-8, lone surrogates included, is already decoded to U+FFFD by Django.)
- A body sent with `Transfer-Encoding: chunked` has no Content-Length, so Django reads it as
  empty: a chunked PATCH would answer 200 having applied nothing. A server that de-chunks the
  body and says so (`wsgi.input_terminated`, as gunicorn and mod_wsgi do) gets it read, up to
  the API's size limit; any other server (runserver) gets 411 Length Required.
"""

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse, HttpResponseBadRequest

from core.api.problems import problem_response
from core.middleware import API_PREFIX


def parameter_with_nul(request):
    """The name of the first query parameter whose name or value holds a NUL, or None."""
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "\\x00")
    return None


def _has_unframed_body(request):
    return not request.META.get("CONTENT_LENGTH") and "chunked" in (
        request.headers.get("Transfer-Encoding", "").lower()
    )


def _refuse(request, status, detail, *, code, errors=None):
    if request.path.startswith(API_PREFIX):
        return problem_response(status, detail, code=code, errors=errors, request=request)
    response = HttpResponseBadRequest(detail) if status == 400 else HttpResponse(detail)
    response.status_code = status
    return response


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = parameter_with_nul(request)
        if name is not None:
            return _refuse(
                request,
                400,
                f"The query parameter '{name}' contains a NUL character.",
                code="validation-error",
                errors={name: ["Contains a NUL character."]},
            )
        if _has_unframed_body(request):
            if not request.META.get("wsgi.input_terminated"):
                return _refuse(
                    request,
                    411,
                    "Send the body with a Content-Length header; this server does not read "
                    "chunked bodies.",
                    code="length-required",
                )
            # Django sized its body stream from the (absent) Content-Length; read the server's
            # de-chunked input instead, one byte past the limit so the API can say it is too big.
            request._stream = LimitedStream(
                request.META["wsgi.input"], settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
            )
        return self.get_response(request)
