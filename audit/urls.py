from audit import api
from core.api.routing import api_path

urlpatterns = [
    *api_path("audit-events", api.AuditEventList.as_view(), name="api-audit-events"),
]
