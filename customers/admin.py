from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ORDER_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from core.admin_base import SoftDeleteAdminMixin, TenantScopedAdmin, actor_display
from core.decimals import plain_decimal
from customers import rules, selectors, services
from customers.blockers import closure_blockers
from customers.forms import CustomerForm, RelationshipForm
from customers.models import Customer, CustomerRelationship
from customers.ownership import beneficial_owners
from customers.rules import Holding, check_direct_ownership

Status = Customer.Status
KycStatus = Customer.KycStatus


# --- labels ---------------------------------------------------------------------------------


def role_name(relationship):
    return relationship.get_type_display().lower()


def role_with_share(relationship):
    """'shareholder, 25 %' or 'director'."""
    share = relationship.ownership_percentage
    return (
        f"{role_name(relationship)}, {plain_decimal(share)} %" if share else role_name(relationship)
    )


def relationship_label(relationship):
    """Both parties by name:
    "Bob Smith (CUS-000003) — shareholder of Acme Ltd (CUS-000002), 25 %"."""
    holder, company = relationship.related_customer, relationship.customer
    text = (
        f"{holder.display_name} ({holder.reference}) — {role_name(relationship)} of "
        f"{company.display_name} ({company.reference})"
    )
    share = relationship.ownership_percentage
    return f"{text}, {plain_decimal(share)} %" if share else text


# --- the customer's relationships, inline --------------------------------------------------------


class PlainPercentInput(forms.NumberInput):
    """25, not 25.0000: the stored scale is not what staff typed."""

    def format_value(self, value):
        if isinstance(value, Decimal):
            return plain_decimal(value)
        return super().format_value(value)


class RelationshipInlineForm(RelationshipForm):
    """The API form, with the holder chosen by autocomplete instead of typed by reference."""

    related_customer = None  # back to the model's own field, which the admin autocompletes

    class Meta(RelationshipForm.Meta):
        widgets = {"ownership_percentage": PlainPercentInput(attrs={"step": "any"})}
        labels = {"related_customer": "held by"}


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
    fields = [
        "holder_and_role",
        "type",
        "related_customer",
        "ownership_percentage",
        "started_on",
        "ended_on",
    ]
    readonly_fields = ["holder_and_role"]
    autocomplete_fields = ["related_customer"]
    extra = 0
    can_delete = False  # end a relationship with the action, so it is soft-deleted and audited
    verbose_name = "role held towards this customer"
    verbose_name_plural = "roles held towards this customer (shareholders, directors, …)"

    @admin.display(description="relationship")
    def holder_and_role(self, relationship):
        if relationship.pk is None:
            return ""
        return f"{relationship.related_customer.display_name} — {role_with_share(relationship)}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("related_customer")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "related_customer":
            # Pick an existing customer; adding or editing one belongs on its own page.
            widget = formfield.widget
            widget.can_add_related = widget.can_change_related = widget.can_view_related = False
        return formfield

    def has_add_permission(self, request, obj):
        return is_editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return is_editable(obj) and super().has_change_permission(request, obj)

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


def is_editable(customer):
    """A deleted customer is restored before editing; a closed customer's record is final."""
    return customer is None or not (customer.is_deleted or customer.status == Status.CLOSED)


# --- the customer form: national id write-only ----------------------------------------------------


class CustomerAdminForm(CustomerForm):
    """The API's form, with the national id write-only: never rendered back, blank keeps it."""

    national_id = forms.CharField(
        label="New national id",
        max_length=64,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: leave blank to keep the national id on file.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["national_id"] = ""  # never sent to the browser; blank means unchanged
        if self.instance.pk is None:
            self.fields["national_id"].label = "National id"
            self.fields["national_id"].help_text = "Write-only: shown masked once saved."

    def clean_national_id(self):
        value = self.cleaned_data.get("national_id", "")
        return value or self.instance.national_id


# --- lifecycle: status and KYC transitions, soft delete and restore ------------------------------
# Every call into customers.services from the admin is in this section and in
# CustomerAdmin.save_model / save_formset.


@dataclass(frozen=True)
class Transition:
    label: str
    verb: str  # for the message: "Activated 1 customer."
    status: str = ""
    kyc_status: str = ""
    confirm: str = ""  # non-empty: ask first, with this as the page's title

    def allowed_from(self, customer):
        if self.status:
            return self.status in rules.STATUS_TRANSITIONS[customer.status]
        return (
            customer.status != Status.CLOSED
            and self.kyc_status in rules.KYC_TRANSITIONS[customer.kyc_status]
        )

    def apply(self, request, customer):
        if self.status:
            services.change_status(customer=customer, status=self.status, by=request.user)
        else:
            services.change_kyc_status(
                customer=customer, kyc_status=self.kyc_status, by=request.user
            )


TRANSITIONS = {
    "activate": Transition("Activate", "Activated", status=Status.ACTIVE),
    "mark_dormant": Transition("Mark dormant", "Marked dormant", status=Status.DORMANT),
    "block": Transition("Block", "Blocked", status=Status.BLOCKED),
    "close": Transition("Close…", "Closed", status=Status.CLOSED, confirm="Close these customers?"),
    "verify_kyc": Transition("Verify", "KYC verified for", kyc_status=KycStatus.VERIFIED),
    "reject_kyc": Transition("Reject", "KYC rejected for", kyc_status=KycStatus.REJECTED),
    "expire_kyc": Transition("Expire", "KYC expired for", kyc_status=KycStatus.EXPIRED),
    "reopen_kyc": Transition("Back to pending", "KYC reopened for", kyc_status=KycStatus.PENDING),
}


def _transition_action(name):
    """The changelist action of a transition (closing asks for confirmation first)."""
    transition = TRANSITIONS[name]

    def action(self, request, queryset):
        return self.run_transition(request, queryset, name, action=name)

    action.__name__ = name
    description = (
        f"{transition.label.rstrip('…')} (KYC)" if transition.kyc_status else (transition.label)
    )
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Customer)
class CustomerAdmin(SoftDeleteAdminMixin, TenantScopedAdmin):
    form = CustomerAdminForm
    change_form_template = "admin/customers/customer/change_form.html"
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
    search_fields = ["reference", "search_name", "email", "phone"]  # deleted rows only
    search_help_text = (
        "Name (misspellings too), reference, email, phone; a national id only in full."
    )
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # a count over a big tenant costs more than it tells
    readonly_fields = [
        "reference",
        "status",
        "kyc_status",
        "masked_national_id",
        "kyc_changed_at",
        "kyc_changed_by",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_by",
        "beneficial_owners_panel",
        "roles_held_panel",
    ]
    fieldsets = [
        (None, {"fields": ["reference", "type", "status", "kyc_status", "risk_rating"]}),
        (
            "Person",
            {
                "classes": ["customer-type-individual"],
                "fields": [
                    "first_name",
                    "last_name",
                    "date_of_birth",
                    "masked_national_id",
                    "national_id",
                ],
            },
        ),
        ("Business", {"classes": ["customer-type-business"], "fields": ["legal_name"]}),
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
        ("Roles this customer holds in other customers", {"fields": ["roles_held_panel"]}),
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

    class Media:
        js = ["customers/customer_type.js"]  # the add page shows the chosen type's sections

    # --- columns and panels ---

    @admin.display(description="name", ordering="search_name")
    def display_name(self, obj):
        return obj.display_name

    @admin.display(description="national id")
    def masked_national_id(self, obj):
        return obj.masked_national_id or "—"

    @admin.display(description="owners")
    def beneficial_owners_panel(self, obj):
        threshold = plain_decimal(Decimal(settings.UBO_THRESHOLD_PERCENT))
        intro = format_html(
            "Natural persons owning at least <strong>{} %</strong> (the UBO threshold), "
            "directly or through other companies.",
            threshold,
        )
        owners = beneficial_owners(company=obj)
        if not owners:
            return format_html("<p>{}</p><p>No natural person reaches {} %.</p>", intro, threshold)
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{} %</td><td class="paths">{}</td></tr>',
            (
                (
                    owner.customer.reference,
                    owner.customer.display_name,
                    plain_decimal(owner.effective_ownership),
                    "; ".join(" → ".join(path) for path in owner.paths)
                    + (" …" if owner.paths_truncated else ""),
                )
                for owner in owners
            ),
        )
        return format_html(
            '<div class="ledger-panel"><p>{}</p><table><thead><tr><th>Reference</th>'
            "<th>Name</th><th>Effective</th><th>Paths (owner → company)</th></tr></thead>"
            "<tbody>{}</tbody></table></div>",
            intro,
            rows,
        )

    @admin.display(description="roles")
    def roles_held_panel(self, obj):
        held = (
            rules.relationships_in_force(include_future=True)  # in force or yet to start
            .filter(related_customer=obj)
            .select_related("customer")
            .order_by("customer__reference", "type")
        )
        rows = [
            (
                reverse("admin:customers_customer_change", args=[rel.customer_id]),
                rel.customer.display_name,
                rel.customer.reference,
                role_with_share(rel),
            )
            for rel in held
        ]
        if not rows:
            return "None: this customer holds no role in another customer."
        return format_html(
            '<div class="ledger-panel"><table><thead><tr><th>In</th><th>Reference</th>'
            "<th>Role</th></tr></thead><tbody>{}</tbody></table></div>",
            format_html_join(
                "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>', rows
            ),
        )

    # --- which sections and fields ---

    def get_fieldsets(self, request, obj=None):
        """Only the sections of this customer's type (on the add page a script hides the
        other type's); the national id on file only masked, a new one write-only."""
        if obj is None:
            hidden = {
                "Ultimate beneficial owners",
                "Roles this customer holds in other customers",
                "Record",
            }
        elif obj.type == Customer.Type.BUSINESS:
            hidden = {"Person"}
        else:
            hidden = {"Business", "Ultimate beneficial owners"}
        drop = set()
        if obj is None:
            drop.add("masked_national_id")
        elif not self.has_change_permission(request, obj):
            drop.add("national_id")  # read-only pages show fields as stored: only the mask
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in drop]})
            for name, opts in self.fieldsets
            if name not in hidden
        ]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return is_editable(obj) and super().has_change_permission(request, obj)

    # --- search ---

    def get_search_results(self, request, queryset, search_term):
        """The API's ranked search (customers.selectors.ranked_search), best match first.
        Deleted customers, which it does not search, are matched by containment."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if "\x00" in term:  # autocomplete passes terms unchecked; PostgreSQL refuses NUL
            return queryset.none(), False
        if request.GET.get("deleted") in {"deleted", "all"}:
            results, duplicates = super().get_search_results(request, queryset, term)
            return results | queryset.filter(national_id=term), duplicates
        results = selectors.ranked_search(queryset, term)
        if ORDER_VAR not in request.GET:  # no column chosen to sort by: best match first
            results = results.order_by(*selectors.SEARCH_ORDERING)
        return results, False

    # --- saving ---

    def save_model(self, request, obj, form, change):
        if change:
            services.update_customer(customer=obj, changes=form.changes(), by=request.user)
        else:
            created = services.create_customer(**form.changes(), by=request.user)
            obj.pk, obj.reference = created.pk, created.reference

    def save_formset(self, request, form, formset, change):
        if formset.model is not CustomerRelationship:
            return super().save_formset(request, form, formset, change)
        # save(commit=False) also records new/changed objects for the admin's change message.
        # A refusal (a rule re-checked under the lock) rolls back the whole page's save and is
        # shown on the form (TenantScopedAdmin.changeform_view).
        formset.save(commit=False)
        for relationship in formset.new_objects:
            data = {name: getattr(relationship, name) for name in services.RELATIONSHIP_FIELDS}
            services.add_relationship(customer=form.instance, **data, by=request.user)
        for relationship, changed in formset.changed_objects:
            changes = {name: getattr(relationship, name) for name in changed}
            services.update_relationship(
                relationship=relationship, changes=changes, by=request.user
            )
        return None

    def soft_delete_object(self, request, obj):
        services.soft_delete_customer(customer=obj, by=request.user)

    def restore_object(self, request, obj):
        services.restore_customer(customer=obj, by=request.user)

    # --- what an action changes, for the confirmation pages ---

    def _involved(self, obj, manager):
        return (
            manager.filter(Q(customer=obj) | Q(related_customer=obj))
            .select_related("customer", "related_customer")
            .order_by("id")
        )

    def _blockers(self, obj, doing):
        return [f"Refused: cannot {doing} while {reason}." for reason in closure_blockers(obj)]

    def soft_delete_consequences(self, obj):
        ending = [
            f"Ends relationship: {relationship_label(rel)}"
            for rel in self._involved(obj, CustomerRelationship.objects)
        ]
        return [
            *self._blockers(obj, "delete"),
            *(ending or ["No relationships to end."]),
            "Restoring the customer later does not bring ended relationships back.",
        ]

    def restore_consequences(self, obj):
        ended = [
            f"Stays ended: {relationship_label(rel)}"
            for rel in self._involved(obj, CustomerRelationship.deleted_objects)
        ]
        return [
            "The customer becomes editable again, with the status and KYC it had.",
            *ended,
            *(["Add relationships that still hold again on the customer page."] if ended else []),
        ]

    def close_consequences(self, obj):
        return [
            *self._blockers(obj, "close"),
            "Status becomes closed. Closed is final: no edits, no KYC changes, no new "
            "relationships; the record stays for the audit trail.",
        ]

    # --- transitions: changelist actions and the buttons on the customer page ---

    verify_kyc = _transition_action("verify_kyc")
    activate = _transition_action("activate")
    mark_dormant = _transition_action("mark_dormant")
    block = _transition_action("block")
    close = _transition_action("close")

    def run_transition(self, request, objects, name, *, action="", form_url=""):
        transition = TRANSITIONS[name]
        if not transition.confirm:
            self.apply_to_each(request, objects, transition.apply, transition.verb)
            return None
        return self.confirm_then_apply(
            request,
            objects,
            operation=transition.apply,
            verb=transition.verb,
            title=transition.confirm,
            consequences=self.close_consequences,
            action=action,
            form_url=form_url,
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.lifecycle_view)
        return [
            path(
                "<path:object_id>/lifecycle/<slug:name>/",
                view,
                name="customers_customer_lifecycle",
            ),
            *super().get_urls(),
        ]

    def lifecycle_view(self, request, object_id, name):
        """One customer's transition, soft delete or restore, from the buttons of its page.
        POST (CSRF-checked by admin_view); closing, deleting and restoring first show the
        confirmation page (GET), which posts back here."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or (name not in TRANSITIONS and name not in {"soft_delete", "restore"}):
            raise Http404("No such customer or transition.")
        if not self.has_soft_delete_permission(request):  # the change permission
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:customers_customer_change", args=[obj.pk]))
        this = self.get_queryset(request).filter(pk=obj.pk)
        if name == "soft_delete":
            response = self.soft_delete_selected(request, this)
        elif name == "restore":
            response = self.restore_selected(request, this)
        elif TRANSITIONS[name].confirm or request.method == "POST":
            response = self.run_transition(request, [obj], name, form_url=request.path)
        else:
            return HttpResponseNotAllowed(["POST"])
        if response is not None:
            response.context_data["form_url"] = request.path
            response.context_data["cancel_url"] = back.url
            return response
        return back

    def lifecycle_buttons(self, request, obj):
        """[(group, [(label, url, needs confirmation)])] for the customer's page."""
        if obj is None or not self.has_soft_delete_permission(request):
            return []

        def url(name):
            return reverse("admin:customers_customer_lifecycle", args=[obj.pk, name])

        if obj.is_deleted:
            return [("Record", [("Restore…", url("restore"), True)])]
        groups = []
        for group, kind in (("Status", "status"), ("KYC", "kyc_status")):
            buttons = [
                (t.label, url(name), bool(t.confirm))
                for name, t in TRANSITIONS.items()
                if getattr(t, kind) and t.allowed_from(obj)
            ]
            if buttons:
                groups.append((group, buttons))
        groups.append(("Record", [("Soft delete…", url("soft_delete"), True)]))
        return groups

    def record_banner(self, obj):
        if obj is None:
            return ""
        if obj.is_deleted:
            when = date_format(timezone.localtime(obj.deleted_at), "DATETIME_FORMAT")
            return f"Deleted on {when} by {actor_display(obj.deleted_by)}: restore to edit."
        if obj.status == Status.CLOSED:
            return "Closed: this record is final."
        return ""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["record_banner"] = self.record_banner(obj)
        context["lifecycle_buttons"] = self.lifecycle_buttons(request, obj)
        if obj is not None and obj.is_deleted and self.has_soft_delete_permission(request):
            context["restore_url"] = reverse(
                "admin:customers_customer_lifecycle", args=[obj.pk, "restore"]
            )
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(CustomerRelationship)
class CustomerRelationshipAdmin(SoftDeleteAdminMixin, TenantScopedAdmin):
    list_display = [
        "customer",
        "type",
        "related_customer",
        "percentage",
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

    @admin.display(description="ownership", ordering="ownership_percentage")
    def percentage(self, obj):
        share = obj.ownership_percentage
        return f"{plain_decimal(share)} %" if share is not None else "—"

    def object_label(self, obj):
        return relationship_label(obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "related_customer")

    def has_add_permission(self, request):
        return False  # added and edited from the customer page, where the rules are checked

    def has_change_permission(self, request, obj=None):
        return False

    def restore_object(self, request, obj):
        services.restore_relationship(relationship=obj, by=request.user)

    def restore_consequences(self, obj):
        return ["In force again, if it still fits the rules (ownership, cycles, dates)."]

    @admin.action(description="End selected relationships (today)…", permissions=["soft_delete"])
    def end_selected(self, request, queryset):
        return self.confirm_then_apply(
            request,
            queryset.filter(deleted_at__isnull=True),
            operation=lambda req, rel: services.end_relationship(relationship=rel, by=req.user),
            verb="Ended",
            title="End these relationships today?",
            consequences=lambda rel: ["Gets an end date of today and leaves the customer pages."],
            action="end_selected",
        )
