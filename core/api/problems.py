"""RFC 9457 problem details: the one shape of every error the partner API answers."""

from django.http import JsonResponse

from core.context import get_request_info
from core.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    RuleViolation,
    ServiceError,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://ledgerline.dev/problems/"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    411: "Length required",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


# How the API answers each domain refusal: (status, last part of `type`). A subclass answers as
# its nearest listed base; an unlisted ServiceError is a refused business rule.
DOMAIN_ERRORS = {
    NotFound: (404, None),  # typed like every other 404 (an unknown path too): `.../404`
    Forbidden: (403, "forbidden"),
    IdempotencyKeyReused: (409, "idempotency-key-reused"),
    Conflict: (409, "conflict"),
    RuleViolation: (422, "business-rule"),
    ServiceError: (422, "business-rule"),
}


def domain_error_response(error, request=None):
    """The problem response of a domain refusal (`core.errors`)."""
    status, code = next(DOMAIN_ERRORS[cls] for cls in type(error).__mro__ if cls in DOMAIN_ERRORS)
    return problem_response(status, str(error), code=code, request=request)


class ApiError(Exception):
    """Raise anywhere below an API view to answer a problem response.

    `errors` maps a field name to its messages; `code` becomes the last part of `type`.
    """

    def __init__(self, status, detail, *, code=None, errors=None, title=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.errors = errors
        self.title = title
        self.headers = headers or {}

    def response(self, request=None):
        return problem_response(
            self.status,
            self.detail,
            code=self.code,
            errors=self.errors,
            title=self.title,
            headers=self.headers,
            request=request,
        )


def validation_error(errors, detail="The request has invalid fields."):
    """A 400 naming each field at fault. `errors` is {field: [message, ...]}."""
    return ApiError(400, detail, code="validation-error", errors=errors)


def problem_response(
    status, detail, *, code=None, errors=None, title=None, headers=None, request=None
):
    body = {
        "type": PROBLEM_TYPE_BASE + (code or str(status)),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "request_id": get_request_info().request_id,
    }
    if request is not None:
        body["instance"] = request.path
    if errors:
        body["errors"] = errors
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def form_errors(form):
    """A bound form's errors as {field: [messages]}, named as the JSON body names them
    (`address.country` for the form field `address_country`); form-wide errors under
    `non_field_errors`."""
    nested = getattr(form, "api_nested", {})

    def json_name(field):
        if field == "__all__":
            return "non_field_errors"
        for group, prefix in nested.items():
            if field.startswith(prefix):
                return f"{group}.{field[len(prefix) :]}"
        return field

    return {
        json_name(field): [str(e["message"]) for e in errs]
        for field, errs in form.errors.get_json_data().items()
    }
