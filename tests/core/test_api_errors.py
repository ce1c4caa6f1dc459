import pytest

pytestmark = pytest.mark.urls("tests.core.urls")

KEYS = "/api/v1/test/keys"


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_malformed_json_is_400(api):
    response = api.client.post(
        KEYS, "{not json", content_type="application/json", headers=api._headers(None)
    )
    assert "not valid JSON" in _problem(response, 400)["detail"]


def test_json_that_is_not_an_object_is_400(api):
    response = api.client.post(
        KEYS, "[1, 2]", content_type="application/json", headers=api._headers(None)
    )
    _problem(response, 400)


def test_wrong_content_type_is_400(api):
    response = api.client.post(
        KEYS, "name=x", content_type="application/x-www-form-urlencoded", headers=api._headers(None)
    )
    assert "application/json" in _problem(response, 400)["detail"]


def test_oversized_body_is_400(api, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = api.post(KEYS, {"name": "x" * 200})
    assert "larger than 100 bytes" in _problem(response, 400)["detail"]


def test_invalid_field_is_400_naming_the_field(api):
    body = _problem(api.post(KEYS, {"name": ""}), 400)
    assert list(body["errors"]) == ["name"]


def test_wrong_json_type_and_unknown_field_are_named(api):
    body = _problem(api.post(KEYS, {"name": 12, "colour": "red"}), 400)
    assert body["errors"] == {"name": ["Must be a string."], "colour": ["Unknown field."]}


def test_unknown_path_is_404_problem(api):
    _problem(api.get("/api/v1/no-such-thing"), 404)


def test_unknown_path_is_404_problem_with_debug_on(api, settings):
    settings.DEBUG = True
    _problem(api.get("/api/v1/no-such-thing"), 404)


def test_wrong_method_is_405_with_allow(api):
    response = api.delete("/api/v1/me")
    _problem(response, 405)
    assert response["Allow"] == "GET, HEAD"


def test_exception_in_view_is_500_problem_without_internals(api):
    response = api.get("/api/v1/test/boom", headers={"X-Request-ID": "req-12345678"})
    body = _problem(response, 500)
    assert body["request_id"] == "req-12345678"
    assert "kaboom" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_request_id_is_generated_when_missing_or_invalid(api):
    generated = api.get("/api/v1/me")["X-Request-ID"]
    assert len(generated) == 32
    assert api.get("/api/v1/me", headers={"X-Request-ID": "bad id\n"})["X-Request-ID"] != "bad id\n"
    assert api.get("/api/v1/me", headers={"X-Request-ID": "abc-123-def"})["X-Request-ID"] == (
        "abc-123-def"
    )


def test_trailing_slash_is_optional(api):
    assert api.get("/api/v1/me/").status_code == 200


def test_nul_in_key_or_path_is_not_a_500(api, client, db):
    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer ll_\x00abcdefg_x"}).status_code
        == 401
    )
    _problem(api.get("/api/v1/customers/CUS-%00"), 404)


@pytest.mark.parametrize(
    "forwarded, expected",
    [
        ("203.0.113.7:51234", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("not-an-ip", "127.0.0.1"),
    ],
)
def test_client_ip_from_a_trusted_proxy(rf, settings, forwarded, expected):
    from core.middleware import client_ip

    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="127.0.0.1")
    assert client_ip(request) == expected


def test_forwarded_for_is_ignored_without_trusted_proxies(rf, settings):
    from core.middleware import client_ip

    settings.TRUSTED_PROXY_COUNT = 0
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.1.2.3")
    assert client_ip(request) == "10.1.2.3"


def test_failed_request_log_line_carries_the_request_id(rf):
    import logging

    from core.logging import RequestContextFilter

    request = rf.get("/")
    request.request_id = "req-abcdef12"
    record = logging.LogRecord("django.request", logging.ERROR, "", 0, "boom", (), None)
    record.request = request
    RequestContextFilter().filter(record)
    assert record.request_id == "req-abcdef12"


# --- bodies that would crash or be lost -------------------------------------------------------

ECHO = "/api/v1/test/echo"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_400_malformed_json(api, depth):
    body = "[" * depth + "]" * depth
    response = api.client.post(
        KEYS, body, content_type="application/json", headers=api._headers(None)
    )
    problem = _problem(response, 400)
    assert problem["type"].endswith("/malformed-json")
    assert "levels deep" in problem["detail"]


def test_nesting_inside_an_object_is_refused_before_the_form(api):
    from core.api.endpoint import MAX_JSON_DEPTH

    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH  # one level more inside the object
    response = api.client.post(
        KEYS,
        '{"name": ' + nested + "}",
        content_type="application/json",
        headers=api._headers(None),
    )
    assert _problem(response, 400)["type"].endswith("/malformed-json")
    shallow = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    response = api.client.post(
        KEYS,
        '{"name": ' + shallow + "}",
        content_type="application/json",
        headers=api._headers(None),
    )
    assert _problem(response, 400)["errors"] == {"name": ["Must be a string."]}


def _chunked(api, method, body, *, terminated):
    """A request as a server hands it over when the client sent `Transfer-Encoding: chunked`:
    no Content-Length; with `wsgi.input_terminated` the input is already de-chunked."""
    import io

    environ = {
        "CONTENT_LENGTH": "",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return api.client.generic(method, ECHO, headers=api._headers(None), **environ)


def test_chunked_body_from_a_dechunking_server_is_read(api):
    response = _chunked(api, "PATCH", b'{"name": "sent in chunks"}', terminated=True)
    assert response.status_code == 200, response.content
    assert response.json() == {"received": {"name": "sent in chunks"}}


def test_chunked_body_over_the_limit_is_400(api, settings):
    settings.API_MAX_BODY_BYTES = 100
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 101
    body = b'{"name": "%s"}' % (b"x" * 200)
    problem = _problem(_chunked(api, "PATCH", body, terminated=True), 400)
    assert problem["type"].endswith("/body-too-large")


def test_chunked_body_the_server_did_not_dechunk_is_411(api):
    problem = _problem(_chunked(api, "PATCH", b'{"name": "lost"}', terminated=False), 411)
    assert problem["type"].endswith("/length-required")
    assert "Content-Length" in problem["detail"]


def test_chunked_body_is_read_through_the_wsgi_handler(db, tenant):
    """The same through Django's real WSGI entry point, as gunicorn calls it."""
    import io
    import json

    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from tests.conftest import make_api_client

    raw_key = make_api_client(tenant).raw_key
    environ = {
        "REQUEST_METHOD": "PATCH",
        "PATH_INFO": ECHO,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {raw_key}",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b'{"name": "via wsgi"}'),
        "wsgi.input_terminated": True,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    statuses = []
    # As the test client does: the test's database connection must outlive the "request".
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        handler = WSGIHandler()
        body = b"".join(handler(environ, lambda status, headers: statuses.append(status)))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert statuses == ["200 OK"]
    assert json.loads(body) == {"received": {"name": "via wsgi"}}


# --- NUL characters in query strings ---------------------------------------------------------


@pytest.mark.parametrize("query", ["q=%00", "limit=%00", "cursor=abc%00", "%00=1"])
def test_nul_in_an_api_query_parameter_is_400_naming_it(api, query):
    response = api.client.get(f"/api/v1/customers?{query}", headers=api._headers(None))
    problem = _problem(response, 400)
    assert "NUL" in problem["detail"] and len(problem["errors"]) == 1


def test_invalid_utf8_in_a_query_parameter_is_not_an_error(api):
    # A UTF-8-encoded lone surrogate and a stray byte are decoded to U+FFFD by Django.
    response = api.client.get("/api/v1/customers?q=%ED%A0%80%FF", headers=api._headers(None))
    assert response.status_code == 200
