"""The base of every partner API view: auth, scopes, rate limit, JSON bodies, idempotency, errors.

A view subclasses `ApiView` and decorates each method handler with `@operation(...)`, which
both configures the request handling and documents the endpoint in the OpenAPI document
(`operation_id` names the action for generated clients; `response` is a shared schema, see
`core.api.schema.component`):

    class CustomerList(ApiView):
        @operation(operation_id="listCustomers", scope="customers:read",
                   query_form=CustomerFilterForm, response=schema_ref("Customer"),
                   paginated=True, summary="List customers")
        def get(self, request):
            ...
            return {"data": [...], "next_cursor": ...}

A handler returns data (serialised as JSON with the operation's status; a `Replayed` dict adds
`Idempotent-Replayed: true`), None (204), or a response; it raises `ApiError` for problems, and
lets domain refusals (`core.errors`) through: they are answered by
`core.api.problems.DOMAIN_ERRORS` (404, 409, 422).
"""

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from core.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from core.api.idempotency import REPLAYED_HEADER, run_idempotent
from core.api.problems import (
    ApiError,
    domain_error_response,
    form_errors,
    problem_response,
    validation_error,
)
from core.api.ratelimit import check_rate_limit
from core.api.schema import flatten_nested, form_schema
from core.db.retry import is_transient, retry_transient
from core.errors import ServiceError

BODY_METHODS = {"POST", "PUT", "PATCH"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# No request body nests more than a few levels (`address.country`); anything far deeper is an
# attack on recursive code further down (encoders, validators), refused at the door.
MAX_JSON_DEPTH = 32


@dataclass
class Operation:
    operation_id: str = ""  # the OpenAPI operationId, e.g. "createCustomer": required to be served
    scope: str | None = None
    summary: str = ""
    description: str = ""
    request_form: type | None = None
    partial: bool = False
    query_form: type | None = None
    response: dict | None = None
    status: int = 200
    paginated: bool = False
    errors: tuple = ()
    auth: bool = True
    idempotent: bool = False  # honours `Idempotency-Key`; other operations refuse the header
    tags: tuple = ()


class Replayed(dict):
    """A handler's answer that repeats the first answer to this request, found by the domain's
    own idempotency (a journal's key) rather than a stored response: served with
    `Idempotent-Replayed: true`, as a stored response is."""


def operation(**options):
    def decorate(handler):
        handler.operation = Operation(**options)
        return handler

    return decorate


def _json_type_errors(schema, data, prefix=""):
    """Reject values of the wrong JSON type and unknown fields before the form sees them."""
    errors = {}
    properties = schema.get("properties", {})
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in properties:
            errors[name] = ["Unknown field."]
            continue
        prop = properties[key]
        allowed = prop.get("anyOf", [prop])
        matching = [option for option in allowed if _matches_type(option, value)]
        if not matching:
            expected = " or ".join(_type_name(option) for option in allowed)
            errors[name] = [f"Must be {expected}."]
        elif (
            value
            and isinstance(value, str)
            and not any(_matches_pattern(o, value) for o in matching)
        ):  # "" is an optional field left empty
            errors[name] = ["Has the wrong form; see the pattern in the API document."]
        elif isinstance(value, dict):
            errors.update(_json_type_errors(prop, value, prefix=f"{name}."))
    return errors


def _too_deep():
    return ApiError(
        400, f"The body nests more than {MAX_JSON_DEPTH} levels deep.", code="malformed-json"
    )


def _nested_deeper_than(data, limit):
    """Whether parsed JSON nests deeper than `limit`, measured without recursion."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return False


def _matches_type(schema, value):
    expected = schema.get("type")
    if expected is None:
        return True
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "null": lambda v: v is None,
    }
    return checks[expected](value)


def _validation_messages(error):
    if hasattr(error, "error_dict"):
        return {
            (field if field != "__all__" else "non_field_errors"): messages
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": error.messages}


def _matches_pattern(schema, value):
    pattern = schema.get("pattern")
    return pattern is None or re.search(pattern, value) is not None


def _type_name(schema):
    return {"null": "null", "object": "an object", "array": "a list"}.get(
        schema.get("type"), f"a {schema.get('type')}"
    )


@method_decorator(csrf_exempt, name="dispatch")
class ApiView(View):
    """Bearer-key JSON endpoint. CSRF does not apply: no cookies authenticate it."""

    def dispatch(self, request, *args, **kwargs):
        try:
            return self._dispatch(request, *args, **kwargs)
        except ApiError as error:
            return error.response(request)

    def _dispatch(self, request, *args, **kwargs):
        method = request.method.lower()
        handler = getattr(self, method, None) if method in self.http_method_names else None
        op = getattr(handler, "operation", None)
        if op is None:
            allowed = ", ".join(self.allowed_methods())
            raise ApiError(
                405,
                f"{request.method} is not allowed here. Allowed: {allowed}.",
                headers={"Allow": allowed},
            )
        self.operation = op
        rate_headers = self._authorize(request, op)
        try:
            response = self._handle(request, handler, op, args, kwargs)
        except ApiError as error:
            response = error.response(request)
        for name, value in rate_headers.items():  # on every counted request, errors included
            response[name] = value
        return response

    def _handle(self, request, handler, op, args, kwargs):
        request.json = self._parse_body(request, op) if request.method in BODY_METHODS else {}
        if request.method in SAFE_METHODS:
            return self._respond(request, handler, op, args, kwargs)
        # A deadlock or serialization failure rolls the whole unit of work back (idempotency
        # record included): run it again rather than answer 500. The services' own retry passes
        # through inside this one, so `attempts` bounds the request. If every attempt failed,
        # nothing was written: 503, and the client may send the same request again.
        try:
            return retry_transient(lambda: self._unit_of_work(request, handler, op, args, kwargs))()
        except OperationalError as error:
            if not is_transient(error):
                raise
            raise ApiError(
                503,
                "The database aborted this request to resolve contention with concurrent ones, "
                "on every attempt; nothing was written. Send it again (with the same "
                f"{IDEMPOTENCY_HEADER}, if any).",
                code="transient-contention",
                headers={"Retry-After": "1"},
            ) from None

    def _unit_of_work(self, request, handler, op, args, kwargs):
        if IDEMPOTENCY_HEADER in request.headers:
            if not op.idempotent:  # refused, not ignored: a retry here is not safe
                raise ApiError(
                    400,
                    f"This operation does not accept {IDEMPOTENCY_HEADER}; a retry may repeat "
                    f"it. Send the request without the header.",
                    code="idempotency-key-not-supported",
                    errors={IDEMPOTENCY_HEADER: ["Not accepted by this operation."]},
                )
            return run_idempotent(
                request,
                request.headers[IDEMPOTENCY_HEADER],
                lambda: self._respond(request, handler, op, args, kwargs),
            )
        return self._respond(request, handler, op, args, kwargs)

    def allowed_methods(self):
        return [
            m.upper()
            for m in self.http_method_names
            if hasattr(getattr(self, m, None), "operation")
        ]

    def _authorize(self, request, op):
        if not op.auth:
            return {}
        key = getattr(request, "partner_key", None)
        if key is None:
            rejected = getattr(request, "partner_key_error", None)
            if rejected is not None:
                raise ApiError(
                    403 if rejected.genuine else 401,  # forbidden, or not authenticated
                    str(rejected),
                    code="invalid-api-key",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            raise ApiError(
                401,
                "Send an API key as 'Authorization: Bearer <key>'.",
                code="missing-api-key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if op.scope and not key.has_scope(op.scope):
            raise ApiError(403, f"This API key lacks the '{op.scope}' scope.", code="missing-scope")
        return check_rate_limit(key.pk)

    def _parse_body(self, request, op):
        content_length = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.API_MAX_BODY_BYTES
        if content_length.isdigit() and int(content_length) > limit:
            raise ApiError(400, f"The body is larger than {limit} bytes.", code="body-too-large")
        try:
            raw = request.body
        except RequestDataTooBig:
            raise ApiError(
                400, f"The body is larger than {limit} bytes.", code="body-too-large"
            ) from None
        if len(raw) > limit:
            raise ApiError(400, f"The body is larger than {limit} bytes.", code="body-too-large")
        if not raw.strip():
            data = {}
        else:
            if request.content_type != "application/json":
                raise ApiError(
                    400,
                    f"Send the body as 'Content-Type: application/json', not "
                    f"'{request.content_type or 'none'}'.",
                    code="unsupported-media-type",
                )
            try:
                data = json.loads(raw)
            except (UnicodeDecodeError, ValueError) as error:
                raise ApiError(
                    400, f"The body is not valid JSON: {error}.", code="malformed-json"
                ) from None
            except RecursionError:  # the decoder recurses per level: deep nesting exhausts it
                raise _too_deep() from None
            if _nested_deeper_than(data, MAX_JSON_DEPTH):
                raise _too_deep()
            if not isinstance(data, dict):
                raise ApiError(400, "The body must be a JSON object.", code="malformed-json")
            try:  # JSON may escape lone surrogates ("\udfff"), which no database can store
                json.dumps(data, ensure_ascii=False).encode()
            except UnicodeEncodeError:
                raise ApiError(
                    400, "The body contains text that is not valid Unicode.", code="malformed-json"
                ) from None
        if op.request_form is not None:
            schema = form_schema(op.request_form, partial=op.partial)
            errors = _json_type_errors(schema, data)
            if errors:
                raise validation_error(errors)
            data = flatten_nested(op.request_form, data)
        elif data:  # an operation that takes no body: what is sent is not silently dropped
            raise validation_error({name: ["Unknown field."] for name in data})
        return data

    def _respond(self, request, handler, op, args, kwargs):
        try:
            result = handler(request, *args, **kwargs)
        except ApiError as error:
            return error.response(request)
        except ServiceError as error:
            return domain_error_response(error, request)
        except ValidationError as error:
            return validation_error(_validation_messages(error)).response(request)
        except Http404 as error:
            return problem_response(404, str(error) or "Not found.", request=request)
        if isinstance(result, HttpResponse):
            return result
        if result is None:
            return HttpResponse(status=204)
        response = JsonResponse(
            result,
            status=op.status,
            encoder=DjangoJSONEncoder,
            json_dumps_params={"ensure_ascii": False},
        )
        if isinstance(result, Replayed):
            response[REPLAYED_HEADER] = "true"
        return response

    # --- helpers for handlers -----------------------------------------------------------------

    def query(self, request, form_class, **form_kwargs):
        """Validate the query string with `form_class`; 400 naming each bad parameter."""
        data = request.GET.copy()
        data.pop("limit", None)
        data.pop("cursor", None)
        form = form_class(data=data, **form_kwargs)
        if not form.is_valid():
            raise validation_error(form_errors(form))
        return form.cleaned_data

    def validate(self, form):
        """Raise a 400 naming each field at fault unless `form` is valid; return it."""
        if not form.is_valid():
            raise validation_error(form_errors(form))
        return form
