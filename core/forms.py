import datetime

from django import forms

from core.context import get_current_tenant


class TenantScopedModelForm(forms.ModelForm):
    """Base ModelForm of tenant data, shared by the admin and the API.

    The tenant is never a field for staff; it is set on the instance before validation so that
    per-tenant uniqueness rules are checked by the form (a clear error) and not by the database
    (an IntegrityError).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.tenant_id is None and "tenant" not in self.fields:
            tenant = get_current_tenant()
            if tenant is not None:
                self.instance.tenant = tenant

    def _get_validation_exclusions(self):
        # Django skips constraints on fields missing from the form; the tenant is known,
        # so keep it in so that UniqueConstraint(tenant, ...) is validated here.
        exclusions = super()._get_validation_exclusions()
        if self.instance.tenant_id is not None:
            exclusions.discard("tenant")
        return exclusions


class UtcDateTimeField(forms.DateTimeField):
    """An ISO 8601 moment, in UTC. Python accepts offsets up to ±23:59, PostgreSQL ±15:59:
    converting here keeps a legal but odd offset from reaching the database."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(datetime.UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC moment
            raise forms.ValidationError("Enter a valid date/time.", code="invalid") from None


class AsOfQueryForm(forms.Form):
    """`?as_of=` of the detail endpoints: the object as it was at that moment (read with
    `core.history.covering`)."""

    as_of = UtcDateTimeField(
        required=False,
        help_text="ISO 8601 timestamp (e.g. 2025-03-01T12:00:00Z): the object as it was then; "
        "404 if it did not exist yet. A timestamp to the millisecond (as this API writes them) "
        "covers that whole millisecond.",
    )
