from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html, format_html_join

from core.admin_base import SoftDeleteAdminMixin, TenantScopedAdmin
from core.decimals import plain_decimal
from customers import selectors, services
from customers.forms import CustomerForm, RelationshipForm
from customers.models import Customer, CustomerRelationship
from customers.ownership import beneficial_owners
from customers.rules import Holding, check_direct_ownership


class RelationshipInlineForm(RelationshipForm):
    """The API form, with the holder chosen by autocomplete instead of typed by reference."""

    related_customer = None  # back to the model's own field, which the admin autocompletes


class RelationshipFormSet(BaseInlineFormSet):
    """Rows that each pass alone may together exceed 100 % direct ownership: the rule is
    checked once more over all the rows shown."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        in_formset = [f for f in self.forms if f.cleaned_data and f.cleaned_data.get("type")]
        check_direct_ownership(
            self.instance,
            [
                Holding(
                    f.cleaned_data["ownership_percentage"],
                    f.cleaned_data.get("started_on"),
                    f.cleaned_data.get("ended_on"),
                )
                for f in in_formset
                if f.cleaned_data["type"] in CustomerRelationship.OWNERSHIP_TYPES
            ],
            exclude_pks={f.instance.pk for f in in_formset if f.instance.pk},
        )


class RelationshipInline(admin.TabularInline):
    model = CustomerRelationship
    fk_name = "customer"
    form = RelationshipInlineForm
    formset = RelationshipFormSet
    fields = ["type", "related_customer", "ownership_percentage", "started_on", "ended_on"]
    autocomplete_fields = ["related_customer"]
    extra = 0
    can_delete = False  # end a relationship with the action, so it is soft-deleted and audited
    verbose_name = "role held towards this customer"
    verbose_name_plural = "roles held towards this customer (shareholders, directors, ...)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("related_customer")

    def get_formset(self, request, obj, **kwargs):
        # Shown on existing customers only (see CustomerAdmin.get_inlines): the rules need one.
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type(
            "BoundRelationshipForm",
            (formset.form,),
            {"__init__": _bind_customer(formset.form, obj)},
        )
        return formset


def _bind_customer(form_class, customer):
    def __init__(self, *args, **kwargs):
        form_class.__init__(self, *args, customer=customer, **kwargs)

    return __init__


def _status_action(status, description, verb):
    """An admin action moving the selected customers to `status` through the service."""

    def action(self, request, queryset):
        self._apply(
            request,
            queryset,
            lambda req, customer: services.change_status(
                customer=customer, status=status, by=req.user
            ),
            verb,
        )

    action.__name__ = f"mark_{status}"
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Customer)
class CustomerAdmin(SoftDeleteAdminMixin, TenantScopedAdmin):
    form = CustomerForm
    list_display = [
        "reference",
        "display_name",
        "type",
        "status",
        "kyc_status",
        "risk_rating",
        "masked_national_id",
        "created_at",
    ]
    list_display_links = ["reference", "display_name"]
    list_filter = ["type", "status", "kyc_status", "risk_rating", "address_country"]
    search_fields = ["reference", "search_name", "email", "phone"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # a count over a big tenant costs more than it tells
    readonly_fields = [
        "reference",
        "status",
        "kyc_status",
        "kyc_changed_at",
        "kyc_changed_by",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_by",
        "beneficial_owners_panel",
    ]
    fieldsets = [
        (None, {"fields": ["reference", "type", "status", "kyc_status", "risk_rating"]}),
        ("Person", {"fields": ["first_name", "last_name", "date_of_birth", "national_id"]}),
        ("Business", {"fields": ["legal_name"]}),
        ("Contact", {"fields": ["email", "phone"]}),
        (
            "Address",
            {
                "fields": [
                    "address_line1",
                    "address_line2",
                    "address_city",
                    "address_postal_code",
                    "address_country",
                ]
            },
        ),
        ("Ultimate beneficial owners", {"fields": ["beneficial_owners_panel"]}),
        (
            "Record",
            {
                "classes": ["collapse"],
                "fields": [
                    "kyc_changed_at",
                    "kyc_changed_by",
                    "created_at",
                    "updated_at",
                    "deleted_at",
                    "deleted_by",
                ],
            },
        ),
    ]
    inlines = [RelationshipInline]
    actions = [
        "verify_kyc",
        "activate",
        "mark_dormant",
        "block",
        "close",
        "soft_delete_selected",
        "restore_selected",
    ]
    history_masked_fields = selectors.HISTORY_MASKED

    @admin.display(description="name", ordering="search_name")
    def display_name(self, obj):
        return obj.display_name

    @admin.display(description="national id")
    def masked_national_id(self, obj):
        return obj.masked_national_id

    @admin.display(description="owners at or above the threshold (UBO_THRESHOLD_PERCENT)")
    def beneficial_owners_panel(self, obj):
        if obj is None or obj.pk is None or obj.type != Customer.Type.BUSINESS:
            return "Only a business has beneficial owners."
        owners = beneficial_owners(company=obj)
        if not owners:
            return "No natural person reaches the threshold."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} %</td><td>{}</td></tr>",
            (
                (
                    owner.customer.reference,
                    owner.customer.display_name,
                    plain_decimal(owner.effective_ownership),
                    "; ".join(" → ".join(path) for path in owner.paths),
                )
                for owner in owners
            ),
        )
        return format_html(
            "<table><thead><tr><th>Reference</th><th>Name</th><th>Effective</th>"
            "<th>Paths (owner → company)</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_fieldsets(self, request, obj=None):
        """Only the sections that apply to this kind of customer, once it has one."""
        hidden = {
            Customer.Type.BUSINESS: {"Person"},
            Customer.Type.INDIVIDUAL: {"Business", "Ultimate beneficial owners"},
        }.get(obj.type if obj is not None else None, {"Ultimate beneficial owners"})
        return [(name, opts) for name, opts in self.fieldsets if name not in hidden]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_search_results(self, request, queryset, search_term):
        """Names, reference, email and phone by containment; a national id only exactly."""
        if "\x00" in search_term:  # autocomplete passes terms unchecked; PostgreSQL refuses NUL
            return queryset.none(), False
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            results |= queryset.filter(national_id=term)
        return results, may_have_duplicates

    def save_model(self, request, obj, form, change):
        if change:
            services.update_customer(customer=obj, changes=form.changes(), by=request.user)
        else:
            created = services.create_customer(**form.changes(), by=request.user)
            obj.pk, obj.reference = created.pk, created.reference

    def save_formset(self, request, form, formset, change):
        if formset.model is not CustomerRelationship:
            return super().save_formset(request, form, formset, change)
        # save(commit=False) records new/changed objects for the admin's change message.
        formset.save(commit=False)
        for relationship in formset.new_objects:
            data = {name: getattr(relationship, name) for name in services.RELATIONSHIP_FIELDS}
            try:
                services.add_relationship(customer=form.instance, **data, by=request.user)
            except ValidationError as error:  # lost a race with a concurrent change
                self.message_user(request, f"{relationship}: {error}", messages.ERROR)
        for relationship, changed in formset.changed_objects:
            changes = {name: getattr(relationship, name) for name in changed}
            try:
                services.update_relationship(
                    relationship=relationship, changes=changes, by=request.user
                )
            except ValidationError as error:  # lost a race with a concurrent change
                self.message_user(request, f"{relationship}: {error}", messages.ERROR)
        return None

    def soft_delete_object(self, request, obj):
        services.soft_delete_customer(customer=obj, by=request.user)

    def restore_object(self, request, obj):
        services.restore_customer(customer=obj, by=request.user)

    @admin.action(description="Mark KYC verified", permissions=["change"])
    def verify_kyc(self, request, queryset):
        self._apply(
            request,
            queryset,
            lambda req, customer: services.change_kyc_status(
                customer=customer, kyc_status=Customer.KycStatus.VERIFIED, by=req.user
            ),
            "KYC verified for",
        )

    activate = _status_action(Customer.Status.ACTIVE, "Activate", "Activated")
    mark_dormant = _status_action(Customer.Status.DORMANT, "Mark dormant", "Marked dormant")
    block = _status_action(Customer.Status.BLOCKED, "Block", "Blocked")
    close = _status_action(Customer.Status.CLOSED, "Close", "Closed")


@admin.register(CustomerRelationship)
class CustomerRelationshipAdmin(SoftDeleteAdminMixin, TenantScopedAdmin):
    list_display = [
        "customer",
        "type",
        "related_customer",
        "ownership_percentage",
        "started_on",
        "ended_on",
    ]
    list_filter = ["type"]
    search_fields = [
        "customer__reference",
        "customer__search_name",
        "related_customer__reference",
        "related_customer__search_name",
    ]
    list_select_related = ["customer", "related_customer"]
    autocomplete_fields = ["customer", "related_customer"]
    actions = ["end_selected", "restore_selected"]

    def has_add_permission(self, request):
        return False  # added and edited from the customer page, where the rules are checked

    def has_change_permission(self, request, obj=None):
        return False

    def restore_object(self, request, obj):
        services.restore_relationship(relationship=obj, by=request.user)

    @admin.action(description="End selected relationships (today)", permissions=["soft_delete"])
    def end_selected(self, request, queryset):
        self._apply(
            request,
            queryset.filter(deleted_at__isnull=True),
            lambda req, rel: services.end_relationship(relationship=rel, by=req.user),
            "Ended",
        )
