"""Endpoints that exist only in tests, to exercise the API plumbing on its own."""

from django import forms

from core.api.endpoint import ApiView, operation
from core.api.pagination import paginate
from core.models import PartnerKey
from core.services import issue_partner_key

KEY_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}

CALLS = {"work": 0}


class KeyForm(forms.Form):
    name = forms.CharField(max_length=50)
    amount = forms.DecimalField(required=False)


class Keys(ApiView):
    @operation(scope="customers:read", response=KEY_SCHEMA, paginated=True)
    def get(self, request):
        rows, cursor = paginate(request, PartnerKey.objects.all(), ordering=("-created_at", "-id"))
        return {"data": [{"name": k.name} for k in rows], "next_cursor": cursor}

    @operation(
        scope="customers:write",
        request_form=KeyForm,
        response=KEY_SCHEMA,
        status=201,
        idempotent=True,
    )
    def post(self, request):
        form = self.validate(KeyForm(data=request.json))
        CALLS["work"] += 1
        key, _raw = issue_partner_key(
            tenant=request.partner_key.tenant, name=form.cleaned_data["name"], scopes=[]
        )
        return {"name": key.name}


class Boom(ApiView):
    @operation(scope=None)
    def get(self, request):
        raise RuntimeError("kaboom: internal detail that must not leak")


class Echo(ApiView):
    """Answers the body it parsed: shows what reached a handler (and that nothing is lost)."""

    @operation(scope=None, request_form=KeyForm, partial=True)
    def patch(self, request):
        return {"received": request.json}

    @operation(scope=None, request_form=KeyForm, status=201)  # not idempotent
    def post(self, request):
        CALLS["work"] += 1
        return {"received": request.json}
