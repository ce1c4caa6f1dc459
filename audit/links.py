"""What the audit app adds to other apps' admin pages (registered in AuditConfig.ready)."""

from django.urls import reverse
from django.utils.http import urlencode

from core.context import in_system_scope
from core.history import resource_of


def trail_link(request, obj):
    """The History pages' link to the log about `obj` (core.admin_base.HISTORY_LINKS), for
    staff who may read the log. A platform user reads every bank's log: the link also names
    the object's bank, since another bank may have an object of the same reference."""
    if not request.user.has_perm("audit.view_auditevent"):
        return None
    query = {"about": resource_of(obj)}
    tenant_id = getattr(obj, "tenant_id", None)
    if tenant_id is not None and in_system_scope():
        query["tenant__id__exact"] = tenant_id
    url = f"{reverse('admin:audit_auditevent_changelist')}?{urlencode(query)}"
    return "Audit trail of this record, related records included →", url
