"""Partner API of the audit log."""

from audit import selectors
from audit.forms import AuditEventFilterForm
from audit.schemas import AUDIT_EVENT
from audit.serializers import event_json
from core.api.endpoint import ApiView, operation
from core.api.pagination import paginate


class AuditEventList(ApiView):
    @operation(
        operation_id="listAuditEvents",
        scope="audit:read",
        summary="The unified audit log, newest first",
        query_form=AuditEventFilterForm,
        response=AUDIT_EVENT,
        paginated=True,
        tags=("audit",),
    )
    def get(self, request):
        filters = self.query(request, AuditEventFilterForm)
        events = selectors.audit_events(
            resource_type=filters["resource_type"],
            resource_id=filters["resource_id"],
            action=filters["action"],
            actor=filters["actor"],
            channel=filters["channel"],
            occurred_from=filters["from"],
            occurred_to=filters["to"],
        )
        rows, cursor = paginate(request, events, ordering=selectors.ORDERING)
        return {"data": [event_json(e) for e in rows], "next_cursor": cursor}
