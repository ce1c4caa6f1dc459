"""Check real API responses against the schemas the OpenAPI document gives for them.

The document's schemas stay open to additions (the contract lets fields be added), but here
every documented object is closed over its properties: a field a serializer returns that its
schema does not document fails the check, as does a documented field it does not return.
"""

import copy

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:ledgerline:openapi"


def _closed(node):
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _closed(value)
    elif isinstance(node, list):
        for value in node:
            _closed(value)
    return node


class Conformance:
    """`check(response, "GET", "/customers/{ref}")` validates one response; `checked` records
    which documented operations were seen."""

    def __init__(self, document):
        self.document = document
        resource = DRAFT202012.create_resource(_closed(copy.deepcopy(document)))
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.checked = set()

    def check(self, response, method, path):
        method = method.lower()
        operation = self.document["paths"][path][method]
        status = str(response.status_code)
        documented = operation["responses"]
        assert status in documented, (
            f"{method.upper()} {path} answered {status}, which it does not document "
            f"({', '.join(documented)}): {response.content[:300]!r}"
        )
        self.checked.add((method, path))
        content = documented[status].get("content")
        if content is None:
            assert response.content == b"", f"{method.upper()} {path} {status} has a body"
            return None
        media_type = response["Content-Type"].split(";")[0].strip()
        assert media_type in content, f"{method.upper()} {path} {status} answered {media_type}"
        schema = content[media_type]["schema"]
        assert set(schema) == {"$ref"}, f"{method.upper()} {path} {status}: not a component"
        validator = Draft202012Validator(
            {"$ref": DOCUMENT_URI + schema["$ref"]},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        body = response.json()
        errors = [
            f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
            for error in validator.iter_errors(body)
        ]
        assert not errors, f"{method.upper()} {path} {status} does not match {schema}: {errors}"
        return body

    def unchecked(self):
        return sorted(
            f"{method.upper()} {path}"
            for path, operations in self.document["paths"].items()
            for method in operations
            if (method, path) not in self.checked
        )
