from django.http import JsonResponse

from core.api.endpoint import ApiView, operation
from core.api.openapi import build_document

ME_SCHEMA = {
    "type": "object",
    "required": ["tenant", "name", "scopes"],
    "properties": {
        "tenant": {"type": "string", "description": "The key's tenant (its slug)."},
        "name": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string"}},
    },
}


class Me(ApiView):
    @operation(summary="The calling key: its tenant and scopes", response=ME_SCHEMA, tags=("meta",))
    def get(self, request):
        key = request.partner_key
        return {"tenant": key.tenant.slug, "name": key.name, "scopes": key.scopes}


class OpenApiDocument(ApiView):
    @operation(
        summary="This API's OpenAPI 3.1 document",
        auth=False,
        response={"type": "object"},
        tags=("meta",),
    )
    def get(self, request):
        return JsonResponse(build_document())
