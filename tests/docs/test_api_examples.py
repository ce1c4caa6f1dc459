"""docs/api.md stays true: every example in it is replayed against the app, in order.

How docs/api.md writes an example (the convention this test parses):

* A request is a fenced block whose info string is exactly ``http``. Its first line is
  ``METHOD /api/v1/path?query``; then optional ``Name: value`` header lines; then a blank line and
  the body, which is sent byte for byte (as ``application/json`` unless a ``Content-Type`` header
  line says otherwise).
* The response is the fenced block right after it, whose info string holds ``status=NNN``
  (```` ```json status=201 ````). It holds optional ``Name: value`` header lines, a blank line, then
  the JSON body; an empty block means an empty body (204).
* Every request carries the test's all-scopes key (``Authorization: Bearer <key>``) unless the
  block sets ``Authorization`` itself; a documented value containing ``…`` stands for the real key.
  In the request line, ``…`` stands for the ``next_cursor`` of the latest list that had one.

How a response is checked:

* The status must be equal. Every documented header must be present with a matching value.
* The documented body must be a subset of the real one: each documented key present with a
  matching value (extra real keys are fine); a list has the same length and matches item by item,
  unless its last documented item is ``"…"``: then the real list only has to start with the others.
* ``"…"`` matches any value (generated ones: timestamps, request ids, cursors); a string with
  ``…`` inside matches any string with text in its place (``"partner_key:…"``).
* An ``id`` is allocated by the server: an integer, or a UUID (a hold's). The first time a
  documented id appears in a response it is bound to the real one; later paths use the real id
  in its place, and later responses must show the same real id for it.

The replay runs as a fresh tenant `harbour` whose key is named "Acme Payments production", from
the documentation address 203.0.113.7, beside another tenant that has a customer CUS-000050 with
an account ACC-000050.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import URLPattern

from core.context import system_scope
from core.models import PartnerKey
from accounts import urls as account_urls
from customers import urls as customer_urls
from tests.accounts.factories import AccountFactory
from tests.conftest import make_api_client
from tests.customers.factories import CustomerFactory

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ANY = "…"
CLIENT_IP = "203.0.113.7"
KEY_NAME = "Acme Payments production"

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$")
_STATUS = re.compile(r"\bstatus=(\d{3})\b")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Example:
    line: int
    heading: str
    method: str
    target: str
    headers: dict
    body: str
    status: int
    response_headers: dict
    response_body: str

    def __str__(self):
        return f"docs/api.md line {self.line} ({self.heading}): {self.method} {self.target}"


@dataclass
class Replay:
    """What a replay remembers between examples."""

    ids: dict = field(default_factory=dict)  # documented id -> real id
    cursor: str | None = None


# --- parsing ----------------------------------------------------------------------------------


def _split_head(text):
    """`Name: value` lines up to the first blank line (or the first non-header line), the rest."""
    headers, lines = {}, text.split("\n")
    index = 0
    while index < len(lines):
        match = _HEADER.match(lines[index])
        if not match:
            break
        headers[match[1]] = match[2].strip()
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1
    return headers, "\n".join(lines[index:]).strip()


def _heading_before(text, offset):
    headings = re.findall(r"^#+ (.+)$", text[:offset], re.MULTILINE)
    return headings[-1] if headings else "top"


def parse_examples(text):
    blocks = [
        (m.start(), m[1].strip(), m[2], text.count("\n", 0, m.start()) + 1)
        for m in _FENCE.finditer(text)
    ]
    examples = []
    for index, (offset, info, content, line) in enumerate(blocks):
        if info != "http":
            continue
        if index + 1 >= len(blocks) or not _STATUS.search(blocks[index + 1][1]):
            raise AssertionError(
                f"docs/api.md line {line}: an http request block must be followed by its "
                "response block (info string with status=NNN)"
            )
        request_line, _, rest = content.partition("\n")
        method, _, target = request_line.strip().partition(" ")
        headers, body = _split_head(rest)
        response_info, response_content = blocks[index + 1][1], blocks[index + 1][2]
        response_headers, response_body = _split_head(response_content)
        examples.append(
            Example(
                line=line,
                heading=_heading_before(text, offset),
                method=method.upper(),
                target=target.strip(),
                headers=headers,
                body=body,
                status=int(_STATUS.search(response_info)[1]),
                response_headers=response_headers,
                response_body=response_body,
            )
        )
    # Every block announcing a status answers a request: none may be left dangling.
    answered = {id(blocks[i + 1]) for i, b in enumerate(blocks) if b[1] == "http"}
    for block in blocks:
        if _STATUS.search(block[1]) and id(block) not in answered:
            raise AssertionError(f"docs/api.md line {block[3]}: a response without a request")
    return examples


# --- matching ---------------------------------------------------------------------------------


def _glob(pattern):
    return re.compile(".*".join(re.escape(part) for part in pattern.split(ANY)), re.DOTALL)


def mismatches(documented, real, replay, where="body"):
    """Where `real` departs from `documented`, as a list of readable lines (empty: it matches)."""
    if documented == ANY:
        return []
    if isinstance(documented, str) and ANY in documented:
        if isinstance(real, str) and _glob(documented).fullmatch(real):
            return []
        return [f"{where}: documented {documented!r}, got {real!r}"]
    if isinstance(documented, dict):
        if not isinstance(real, dict):
            return [f"{where}: documented an object, got {real!r}"]
        problems = []
        for key, value in documented.items():
            if key not in real:
                problems.append(f"{where}.{key}: documented but missing")
            elif key == "id" and _is_id(value):
                problems += _bound_id(value, real[key], replay, f"{where}.id")
            else:
                problems += mismatches(value, real[key], replay, f"{where}.{key}")
        return problems
    if isinstance(documented, list):
        if not isinstance(real, list):
            return [f"{where}: documented a list, got {real!r}"]
        open_ended = bool(documented) and documented[-1] == ANY
        items = documented[:-1] if open_ended else documented
        if len(real) < len(items) or (not open_ended and len(real) != len(items)):
            return [f"{where}: documented {len(items)} items, got {len(real)}: {real!r}"]
        problems = []
        for index, (doc_item, real_item) in enumerate(zip(items, real, strict=False)):
            problems += mismatches(doc_item, real_item, replay, f"{where}[{index}]")
        return problems
    if type(documented) is not type(real) or documented != real:
        return [f"{where}: documented {documented!r}, got {real!r}"]
    return []


def _is_id(value):
    if isinstance(value, str):
        return _UUID.fullmatch(value) is not None
    return isinstance(value, int) and not isinstance(value, bool)


def _bound_id(documented, real, replay, where):
    if type(real) is not type(documented) or not _is_id(real):
        return [f"{where}: documented an id, got {real!r}"]
    if documented in replay.ids:
        if replay.ids[documented] != real:
            return [f"{where}: documented id {documented} is {replay.ids[documented]}, got {real}"]
        return []
    if real in replay.ids.values():
        return [f"{where}: documented id {documented} is already documented under another id"]
    replay.ids[documented] = real
    return []


# --- replaying --------------------------------------------------------------------------------


def _resolve_target(target, replay):
    path, _, query = target.partition("?")
    segments = [str(replay.ids.get(int(s) if s.isdigit() else s, s)) for s in path.split("/")]
    path = "/".join(segments)
    if ANY in query:
        assert replay.cursor, "a request uses `…` for a cursor, but no list has given one yet"
        query = query.replace(ANY, replay.cursor)
    return f"{path}?{query}" if query else path


def send(api, example, replay):
    headers = {"Authorization": f"Bearer {api.raw_key}"}
    content_type = "application/json"
    for name, value in example.headers.items():
        if name.lower() == "authorization" and ANY in value:
            continue  # the documented placeholder of the real key
        if name.lower() == "content-type":
            content_type = value
        else:
            headers[name] = value
    return api.client.generic(
        example.method,
        _resolve_target(example.target, replay),
        data=example.body.encode(),
        content_type=content_type,
        headers=headers,
        REMOTE_ADDR=CLIENT_IP,
    )


def check(example, response, replay):
    problems = []
    if response.status_code != example.status:
        problems.append(f"status: documented {example.status}, got {response.status_code}")
    for name, value in example.response_headers.items():
        if name not in response.headers:
            problems.append(f"header {name}: documented but missing")
        else:
            problems += mismatches(value, response.headers[name], replay, f"header {name}")
    content = response.content.decode()
    if not example.response_body:
        if content.strip():
            problems.append(f"body: documented empty, got {content[:300]}")
    else:
        try:
            documented = json.loads(example.response_body)
        except ValueError as error:
            raise AssertionError(f"{example}: the documented body is not JSON: {error}") from None
        try:
            real = json.loads(content)
        except ValueError:
            problems.append(f"body: not JSON: {content[:300]}")
        else:
            problems += mismatches(documented, real, replay)
            if isinstance(real, dict) and real.get("next_cursor"):
                replay.cursor = real["next_cursor"]
    if problems:
        raise AssertionError(
            f"{example} drifted from the API:\n  "
            + "\n  ".join(problems)
            + f"\nreal response {response.status_code}: {content[:2000]}"
        )


def replay_all(text, api):
    examples = parse_examples(text)
    replay = Replay()
    for example in examples:
        check(example, send(api, example, replay), replay)
    return examples


@pytest.fixture
def doc_api(tenant, other_tenant):
    """An all-scopes key of a fresh `harbour` tenant, beside another bank's CUS-000050 and its
    account ACC-000050."""
    other = CustomerFactory(tenant=other_tenant, reference="CUS-000050", first_name="Other")
    AccountFactory(tenant=other_tenant, customer=other, reference="ACC-000050", currency="EUR")
    api = make_api_client(tenant)
    with system_scope():
        PartnerKey.objects.filter(tenant=tenant).update(name=KEY_NAME)
    return api


# --- tests ------------------------------------------------------------------------------------


def test_every_documented_example_holds(doc_api):
    examples = replay_all(DOC.read_text(encoding="utf-8"), doc_api)
    assert len(examples) >= 40, "examples went missing from docs/api.md"


def _route_regex(route):
    pattern = re.sub(r"<int:[^>]+>", r"\\d+", route)
    pattern = re.sub(r"<(?:str:)?[^>]+>", r"[^/?]+", pattern)
    return re.compile(rf"^/api/v1/{pattern}/?(\?.*)?$")


def test_every_customer_and_account_endpoint_has_an_example():
    examples = parse_examples(DOC.read_text(encoding="utf-8"))
    missing = []
    for entry in [*customer_urls.urlpatterns, *account_urls.urlpatterns]:
        route = str(entry.pattern)
        if not isinstance(entry, URLPattern) or route.endswith("/"):
            continue
        view = entry.callback.view_class
        regex = _route_regex(route)
        for method in view.http_method_names:
            if not hasattr(getattr(view, method, None), "operation"):
                continue
            if not any(e.method == method.upper() and regex.match(e.target) for e in examples):
                missing.append(f"{method.upper()} /api/v1/{route}")
    assert not missing, f"no example in docs/api.md for: {missing}"


def test_a_drifted_example_fails(doc_api):
    """The replay is not a rubber stamp: change one documented value and it fails."""
    text = DOC.read_text(encoding="utf-8")
    documented = '"national_id": "*****456C",\n  "address"'
    assert documented in text
    drifted = text.replace(documented, '"national_id": "QQ123456C",\n  "address"', 1)
    with pytest.raises(AssertionError, match=r"national_id: documented 'QQ123456C'"):
        replay_all(drifted, doc_api)


@pytest.mark.parametrize(
    ("documented", "real", "matches"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),  # extra real keys are fine
        ({"a": 1, "c": 3}, {"a": 1}, False),  # a documented key went missing
        ({"a": "1"}, {"a": 1}, False),  # "1" is not 1: decimals stay strings
        ({"a": None}, {"a": ""}, False),
        ({"t": ANY}, {"t": "2025-01-01T00:00:00Z"}, True),
        ({"t": ANY}, {}, False),  # a wildcard still needs the key
        ({"actor": "partner_key:…"}, {"actor": "partner_key:ab12cd34"}, True),
        ({"actor": "partner_key:…"}, {"actor": "user:hana"}, False),
        ([1, 2], [1, 2, 3], False),  # lists are complete unless they end in …
        ([1, 2, ANY], [1, 2, 3], True),
        ([1, 2, ANY], [1], False),
        ([{"a": 1}], [{"a": 2}], False),
    ],
)
def test_matcher(documented, real, matches):
    assert (mismatches(documented, real, Replay()) == []) is matches


def test_documented_ids_bind_once_and_stay_bound():
    replay = Replay()
    assert mismatches({"id": 1}, {"id": 41}, replay) == []
    assert mismatches({"id": 1}, {"id": 41}, replay) == []
    assert mismatches({"id": 1}, {"id": 42}, replay)  # 1 is already 41
    assert mismatches({"id": 2}, {"id": 41}, replay)  # 41 is already documented as 1
    assert _resolve_target("/api/v1/customers/CUS-000002/relationships/1", replay).endswith(
        "/relationships/41"
    )
    documented, real = (
        "3b0c6f2e-5d1a-4b8e-9c07-2f4e6a1d9b55",
        "0f6ad7a8-59b2-4c1e-8d3b-61c0e2f4a7d9",
    )
    assert mismatches({"id": documented}, {"id": real}, replay) == []
    assert mismatches({"id": documented}, {"id": documented}, replay)  # bound to `real`
    assert mismatches({"id": documented}, {"id": 43}, replay)
    assert _resolve_target(f"/api/v1/accounts/ACC-000001/holds/{documented}", replay).endswith(
        f"/holds/{real}"
    )
