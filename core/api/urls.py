from core.api import views
from core.api.routing import api_path

urlpatterns = [
    *api_path("me", views.Me.as_view(), name="api-me"),
    *api_path("openapi.json", views.OpenApiDocument.as_view(), name="api-openapi"),
]
