from django.http import JsonResponse

from core.api.endpoint import ApiView, operation
from core.api.openapi import build_document
from core.api.schema import schema_ref


class Me(ApiView):
    @operation(
        operation_id="getMe",
        summary="The calling key: its tenant and scopes",
        response=schema_ref("Me"),
        tags=("meta",),
    )
    def get(self, request):
        key = request.partner_key
        return {"tenant": key.tenant.slug, "name": key.name, "scopes": key.scopes}


class OpenApiDocument(ApiView):
    @operation(
        operation_id="getOpenApiDocument",
        summary="This API's OpenAPI 3.1 document",
        auth=False,
        response=schema_ref("OpenApiDocument"),
        tags=("meta",),
    )
    def get(self, request):
        return JsonResponse(build_document())
