from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from core.admin_base import SoftDeleteAdminMixin, TenantScopedAdmin
from core.errors import ServiceError
from customers import services
from customers.forms import CustomerForm, RelationshipForm
from customers.models import Customer, CustomerRelationship
from customers.ownership import beneficial_owners
from customers.serializers import decimal_string


class RelationshipInlineForm(RelationshipForm):
    """The API form, with the holder chosen by autocomplete instead of typed by reference."""

    related_customer = forms.ModelChoiceField(queryset=Customer.objects.all())


class RelationshipInline(admin.TabularInline):
    model = CustomerRelationship
    fk_name = "customer"
    form = RelationshipInlineForm
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
        "block",
        "soft_delete_selected",
        "restore_selected",
    ]

    @admin.display(description="name", ordering="search_name")
    def display_name(self, obj):
        return obj.display_name

    @admin.display(description="national id")
    def masked_national_id(self, obj):
        return obj.masked_national_id

    @admin.display(description="owners at or above 25 %")
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
                    decimal_string(owner.effective_ownership),
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

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_search_results(self, request, queryset, search_term):
        """Names, reference, email and phone by containment; a national id only exactly."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            results |= queryset.filter(national_id=term)
        return results, may_have_duplicates

    def save_model(self, request, obj, form, change):
        if change:
            services.update_customer(form=form, by=request.user)
        else:
            created = services.create_customer(form=form, by=request.user)
            obj.pk, obj.reference = created.pk, created.reference

    def save_formset(self, request, form, formset, change):
        if formset.model is not CustomerRelationship:
            return super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not inline_form.is_valid():
                continue
            if inline_form.instance.pk is None:
                services.add_relationship(customer=form.instance, form=inline_form, by=request.user)
            else:
                inline_form.save()
        return None

    def soft_delete_object(self, request, obj):
        services.soft_delete_customer(customer=obj, by=request.user)

    def restore_object(self, request, obj):
        services.restore_customer(customer=obj, by=request.user)

    def _each(self, request, queryset, apply, done):
        changed = 0
        for customer in queryset:
            try:
                apply(customer)
                changed += 1
            except (ServiceError, ValidationError) as error:
                self.message_user(request, f"{customer.reference}: {error}", messages.ERROR)
        if changed:
            self.message_user(request, f"{done}: {changed} customer(s).", messages.SUCCESS)

    @admin.action(description="Mark KYC verified")
    def verify_kyc(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda c: services.change_kyc_status(
                customer=c, kyc_status=Customer.KycStatus.VERIFIED, by=request.user
            ),
            "KYC verified",
        )

    @admin.action(description="Activate")
    def activate(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda c: services.change_status(
                customer=c, status=Customer.Status.ACTIVE, by=request.user
            ),
            "Activated",
        )

    @admin.action(description="Block")
    def block(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda c: services.change_status(
                customer=c, status=Customer.Status.BLOCKED, by=request.user
            ),
            "Blocked",
        )


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
    readonly_fields = ["customer", "related_customer", "type", "ownership_percentage"]
    actions = ["end_selected", "restore_selected"]

    def has_add_permission(self, request):
        return False  # added from the customer page, where the rules are checked

    @admin.action(description="End selected relationships (today)")
    def end_selected(self, request, queryset):
        self._apply(
            request,
            queryset.filter(deleted_at__isnull=True),
            lambda req, rel: services.end_relationship(relationship=rel, by=req.user),
            "Ended",
        )
