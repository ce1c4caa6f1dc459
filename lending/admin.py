"""The lending back office: loan products, loans (schedule, repayments and collateral inline,
loan-to-value and payoff), the decisions and movements staff make on a loan, and the
portfolio-at-risk report.

Every change goes through `lending.services`: four-eyes (the approver is never the submitter),
statuses and limits are checked there, and a refusal is a message or a form error on the same
page, never a 500.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import ReadOnlyInline, change_link, money
from core.admin_base import (
    REFUSALS,
    SoftDeleteAdminMixin,
    TenantScopedAdmin,
    actor_display,
    refusal_messages,
)
from lending import reports, rules, selectors, services
from lending.admin_forms import (
    CollateralForm,
    DisbursementForm,
    LoanApplicationForm,
    LoanProductForm,
    RejectionForm,
    RepaymentForm,
    RepaymentReversalForm,
    ReportDateForm,
    allocation_label,
)
from lending.models import Collateral, Installment, Loan, LoanProduct, Repayment

LENDING_CSS = {"all": ["accounts/admin.css", "lending/admin.css"]}
Status = Loan.Status


def percent(value):
    return "—" if value is None else f"{value.normalize():f} %"


# --- products ----------------------------------------------------------------------------------


@admin.register(LoanProduct)
class LoanProductAdmin(SoftDeleteAdminMixin, TenantScopedAdmin):
    form = LoanProductForm
    list_display = [
        "reference",
        "name",
        "currency",
        "principal_range",
        "rate_range",
        "installments_range",
        "frequencies",
        "fee",
        "penalty",
        "is_active",
    ]
    list_filter = ["is_active", "currency", "interest_method", "amortization"]
    search_fields = ["reference", "name"]
    ordering = ["reference"]
    readonly_fields = ["reference", "allocation", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["reference", "name", "currency", "is_active"]}),
        (
            "Limits",
            {
                "fields": [
                    ("min_principal", "max_principal"),
                    ("min_interest_rate", "max_interest_rate"),
                    ("min_installments", "max_installments"),
                    "repayment_frequencies",
                ]
            },
        ),
        (
            "Schedule",
            {"fields": ["interest_method", "amortization", "day_count", "grace_installments"]},
        ),
        (
            "Fees and penalties",
            {
                "fields": [
                    ("origination_fee_type", "origination_fee"),
                    ("penalty_type", "penalty_amount", "penalty_rate"),
                    "penalty_tolerance_days",
                ]
            },
        ),
        ("Repayments", {"fields": ["allocation_order", "allocation", "overpayment"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    class Media:
        css = LENDING_CSS

    @admin.display(description="principal")
    def principal_range(self, product):
        return (
            f"{money(product.min_principal, product.currency)} to "
            f"{money(product.max_principal, product.currency)}"
        )

    @admin.display(description="rate")
    def rate_range(self, product):
        return f"{percent(product.min_interest_rate)} to {percent(product.max_interest_rate)}"

    @admin.display(description="installments")
    def installments_range(self, product):
        return f"{product.min_installments} to {product.max_installments}"

    @admin.display(description="frequencies")
    def frequencies(self, product):
        return ", ".join(product.repayment_frequencies)

    @admin.display(description="origination fee")
    def fee(self, product):
        kind = product.origination_fee_type
        if kind == "flat":
            return f"{money(product.origination_fee, product.currency)} {product.currency}"
        if kind == "percent":
            return percent(product.origination_fee)
        return "none"

    @admin.display(description="late penalty")
    def penalty(self, product):
        after = f" after {product.penalty_tolerance_days} days"
        if product.penalty_type == "flat":
            amount = money(product.penalty_amount, product.currency)
            return f"{amount} {product.currency} per missed installment{after}"
        if product.penalty_type == "rate":
            return f"{percent(product.penalty_rate)} a year on the overdue amount{after}"
        return "none"

    @admin.display(description="allocation order")
    def allocation(self, product):
        return allocation_label(product.allocation_order)

    def get_fieldsets(self, request, obj=None):
        """The allocation order as a choice of arrows to those who may change it, as arrows
        to those who may not; no reference or record before the product exists."""
        drop = {"allocation" if self.has_change_permission(request, obj) else "allocation_order"}
        if obj is None:
            drop.add("reference")
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in drop]})
            for name, opts in self.fieldsets
            if not (obj is None and name == "Record")
        ]

    def soft_delete_consequences(self, product):
        loans = Loan.all_objects.filter(product=product).count()
        return [f"No new applications for it; its {loans} loan(s) keep the terms they have."]

    def restore_consequences(self, product):
        return ["New applications for it are accepted again (if it is active)."]

    def save_model(self, request, obj, form, change):
        if change:
            product = LoanProduct.objects.get(pk=obj.pk)  # as stored: the service sees old/new
            services.update_product(product=product, changes=form.changes(), by=request.user)
        else:
            created = services.create_product(**form.cleaned_data, by=request.user)
            obj.pk, obj.reference = created.pk, created.reference


# --- loans: inlines ----------------------------------------------------------------------------


class WholeScheduleFormSet(BaseInlineFormSet):
    """A schedule has at most a few hundred rows, all of which staff read."""


class InstallmentsInline(ReadOnlyInline):
    model = Installment
    formset = WholeScheduleFormSet
    show_change_link = False
    fields = [
        "number",
        "due_date",
        "shown_principal",
        "shown_interest",
        "shown_fees",
        "shown_penalties",
        "shown_paid",
        "shown_due",
        "status",
        "paid_on",
    ]
    readonly_fields = fields
    verbose_name_plural = "schedule"

    def _money(self, installment, amount):
        return money(amount, installment.loan.currency)

    @admin.display(description="principal")
    def shown_principal(self, installment):
        return self._money(installment, installment.principal)

    @admin.display(description="interest")
    def shown_interest(self, installment):
        return self._money(installment, installment.interest)

    @admin.display(description="fees")
    def shown_fees(self, installment):
        return self._money(installment, installment.fees)

    @admin.display(description="penalties")
    def shown_penalties(self, installment):
        return self._money(installment, installment.penalties)

    @admin.display(description="paid")
    def shown_paid(self, installment):
        paid = (
            installment.principal_paid
            + installment.interest_paid
            + installment.fees_paid
            + installment.penalties_paid
        )
        return self._money(installment, paid)

    @admin.display(description="still due")
    def shown_due(self, installment):
        due = (
            installment.principal
            + installment.interest
            + installment.fees
            + installment.penalties
            - installment.principal_paid
            - installment.interest_paid
            - installment.fees_paid
            - installment.penalties_paid
        )
        return self._money(installment, due)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("loan").order_by("number")


class RepaymentsInline(ReadOnlyInline):
    model = Repayment
    show_change_link = False
    fields = [
        "received_on",
        "shown_amount",
        "shown_principal",
        "shown_interest",
        "shown_fees",
        "shown_penalties",
        "journal_link",
        "reversal",
    ]
    readonly_fields = fields
    verbose_name_plural = "Repayments (newest 20 first)"

    def _money(self, repayment, amount):
        return money(amount, repayment.loan.currency)

    @admin.display(description="amount")
    def shown_amount(self, repayment):
        return self._money(repayment, repayment.amount)

    @admin.display(description="principal")
    def shown_principal(self, repayment):
        return self._money(repayment, repayment.principal)

    @admin.display(description="interest")
    def shown_interest(self, repayment):
        return self._money(repayment, repayment.interest)

    @admin.display(description="fees")
    def shown_fees(self, repayment):
        return self._money(repayment, repayment.fees)

    @admin.display(description="penalties")
    def shown_penalties(self, repayment):
        return self._money(repayment, repayment.penalties)

    @admin.display(description="journal")
    def journal_link(self, repayment):
        return change_link(repayment.journal, "Journal")

    @admin.display(description="reversed")
    def reversal(self, repayment):
        if repayment.reversed_at is None:
            return "—"
        return change_link(repayment.reversal_journal, "Reversed")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("loan", "journal", "reversal_journal")
            .order_by("-received_on", "-id")
        )


class CollateralInline(ReadOnlyInline):
    model = Collateral
    formset = WholeScheduleFormSet
    verbose_name_plural = "collateral"
    fields = ["type", "description", "shown_value", "valuation_date", "guarantor"]
    readonly_fields = fields

    @admin.display(description="value")
    def shown_value(self, collateral):
        return f"{money(collateral.value, collateral.currency)} {collateral.currency}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("guarantor").order_by("id")


# --- loans: filters, decisions -------------------------------------------------------------------


class ArrearsFilter(admin.SimpleListFilter):
    """The PAR buckets: loans by how many days their oldest unpaid installment is late."""

    title = "days past due"
    parameter_name = "arrears"
    BUCKETS = {
        "current": ("Not late", 0, 0),
        "1": ("1 to 29 days", 1, 29),
        "30": ("30 to 59 days", 30, 59),
        "60": ("60 to 89 days", 60, 89),
        "90": ("90 days or more", 90, None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _low, _high) in self.BUCKETS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BUCKETS:
            return queryset
        _label, low, high = self.BUCKETS[self.value()]
        queryset = queryset.filter(days_past_due__gte=low)
        return queryset if high is None else queryset.filter(days_past_due__lte=high)


@dataclass(frozen=True)
class Decision:
    """A step staff take on a loan from its page or the changelist."""

    label: str
    statuses: tuple  # the statuses it is offered from (the service checks again)
    verb: str = ""  # of a changelist action, for its message: "Approved 1 loan."
    confirm: str = ""  # non-empty: a confirmation page first, with this as its title

    def allowed_from(self, loan):
        return loan.status in self.statuses


DECISIONS = {
    "approve": Decision("Approve", (Status.PENDING_APPROVAL,), "Approved"),
    "reject": Decision(
        "Reject…", (Status.PENDING_APPROVAL,), "Rejected", confirm="Reject these applications?"
    ),
    "disburse": Decision("Disburse", (Status.APPROVED,), "Disbursed"),
    "repay": Decision("Repay…", (Status.ACTIVE,)),
    "reverse_repayment": Decision("Reverse latest repayment…", (Status.ACTIVE, Status.CLOSED)),
    "add_collateral": Decision(
        "Add collateral…", (Status.PENDING_APPROVAL, Status.APPROVED, Status.ACTIVE)
    ),
    "write_off": Decision(
        "Write off…", (Status.ACTIVE,), "Wrote off", confirm="Write off these loans?"
    ),
}


def _decision_action(name, service, form_class=None):
    """The changelist action of decision `name`: `service(request, loan)` on each selected loan,
    the service refusing (as a message) those the decision does not apply to. A decision that
    asks first lists on its confirmation page only the loans it is offered from, each with
    `<name>_consequences`, and asks for `form_class`'s fields, passed to the service."""
    decision = DECISIONS[name]

    def action(self, request, queryset):
        loans = [loan for loan in queryset if decision.allowed_from(loan)]
        if decision.confirm:
            return self.confirm_then_apply(
                request,
                loans,
                operation=service,
                verb=decision.verb,
                title=decision.confirm,
                consequences=getattr(self, f"{name}_consequences"),
                action=name,
                form_class=form_class,
            )
        self.apply_to_each(request, queryset, service, decision.verb)
        return None

    action.__name__ = name
    return admin.action(
        description=f"{decision.label.rstrip('…')} selected loans"
        + ("…" if decision.confirm else ""),
        permissions=["change"],
    )(action)


def _approve(request, loan):
    services.approve_loan(loan=loan, by=request.user)


def _reject(request, loan, reason):
    services.reject_loan(loan=loan, reason=reason, by=request.user)


def _disburse(request, loan):
    services.disburse_loan(loan=loan, by=request.user)


def _write_off(request, loan):
    services.write_off_loan(loan=loan, by=request.user)


@admin.register(Loan)
class LoanAdmin(SoftDeleteAdminMixin, TenantScopedAdmin):
    add_form = LoanApplicationForm
    change_form_template = "admin/lending/loan/change_form.html"
    change_list_template = "admin/lending/loan/change_list.html"
    list_display = [
        "reference",
        "borrower",
        "product",
        "shown_principal",
        "status",
        "shown_outstanding",
        "days_past_due",
    ]
    list_filter = ["status", "product", ArrearsFilter]
    search_fields = ["reference", "customer__reference", "customer__search_name"]
    search_help_text = "Loan or customer reference, or the customer's name."
    list_select_related = ["customer", "product"]
    autocomplete_fields = ["customer", "product", "account"]
    ordering = ["-id"]
    actions = ["approve", "reject", "disburse", "write_off"]
    inlines = [InstallmentsInline, RepaymentsInline, CollateralInline]
    readonly_fields = [
        "reference",
        "borrower",
        "product_link",
        "account_link",
        "status",
        "days_past_due",
        "shown_principal",
        "rate",
        "number_of_installments",
        "repayment_frequency",
        "interest_method",
        "amortization",
        "day_count",
        "grace_installments",
        "start_date",
        "first_repayment_date",
        "maturity_date",
        "outstanding_panel",
        "payoff_today",
        "loan_to_value",
        "submitted_on",
        "submitter",
        "approved_on",
        "approver",
        "decided_on",
        "decider",
        "decision_reason",
        "disbursed_on",
        "disbursement",
        "closed_on",
        "written_off_on",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "reference",
                    "borrower",
                    "product_link",
                    "account_link",
                    "status",
                    "days_past_due",
                ]
            },
        ),
        (
            "Terms",
            {
                "fields": [
                    "shown_principal",
                    "rate",
                    ("number_of_installments", "repayment_frequency"),
                    ("interest_method", "amortization", "day_count"),
                    "grace_installments",
                    ("start_date", "first_repayment_date", "maturity_date"),
                ]
            },
        ),
        ("Outstanding", {"fields": ["outstanding_panel", "payoff_today", "loan_to_value"]}),
        (
            "Decisions",
            {
                "fields": [
                    ("submitted_on", "submitter"),
                    ("approved_on", "approver"),
                    ("decided_on", "decider"),
                    "decision_reason",
                    ("disbursed_on", "disbursement"),
                    "closed_on",
                    "written_off_on",
                ]
            },
        ),
    ]
    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "customer",
                    "product",
                    "account",
                    "principal",
                    "annual_interest_rate",
                    ("number_of_installments", "repayment_frequency"),
                    ("start_date", "first_repayment_date"),
                ]
            },
        )
    ]

    class Media:
        css = LENDING_CSS

    # --- columns and fields ---

    @admin.display(description="customer", ordering="customer__search_name")
    def borrower(self, loan):
        return change_link(
            loan.customer, f"{loan.customer.display_name} ({loan.customer.reference})"
        )

    @admin.display(description="product")
    def product_link(self, loan):
        return change_link(loan.product, loan.product.name)

    @admin.display(description="deposit account")
    def account_link(self, loan):
        return change_link(loan.account, loan.account.reference)

    @admin.display(description="principal", ordering="principal")
    def shown_principal(self, loan):
        return f"{money(loan.principal, loan.currency)} {loan.currency}"

    @admin.display(description="outstanding")
    def shown_outstanding(self, loan):
        if loan.status not in (Status.ACTIVE, Status.WRITTEN_OFF):
            return "—"
        return money(loan.outstanding_total, loan.currency)

    @admin.display(description="annual interest rate")
    def rate(self, loan):
        return percent(loan.annual_interest_rate)

    @admin.display(description="outstanding")
    def outstanding_panel(self, loan):
        if loan.disbursed_on is None:
            return "— (not disbursed)"
        currency = loan.currency
        parts = [
            ("Principal", loan.outstanding_principal),
            ("Interest", loan.outstanding_interest),
            ("Fees", loan.outstanding_fees),
            ("Penalties", loan.outstanding_penalties),
            ("Total", loan.outstanding_total),
        ]
        return format_html(
            '<table class="loan-figures"><tbody>{}</tbody></table>',
            format_html(
                "".join(f"<tr><th>{label}</th><td>{{}} {currency}</td></tr>" for label, _ in parts),
                *(money(amount, currency) for _label, amount in parts),
            ),
        )

    @admin.display(description="payoff today")
    def payoff_today(self, loan):
        if loan.status != Status.ACTIVE:
            return "—"
        figures = selectors.payoff(loan, on=timezone.localdate())
        currency = loan.currency
        return format_html(
            '{} {} · <a href="{}">on another date…</a>',
            money(figures["total"], currency),
            currency,
            reverse("admin:lending_loan_payoff", args=[loan.pk]),
        )

    @admin.display(description="loan-to-value")
    def loan_to_value(self, loan):
        ratio = selectors.loan_to_value(loan)
        if ratio is None:
            return "— (no collateral)"
        return f"{(ratio * 100).quantize(Decimal('0.1'))} %"

    @admin.display(description="submitted by")
    def submitter(self, loan):
        return actor_display(loan.submitted_by) if loan.submitted_by else "—"

    @admin.display(description="approved by")
    def approver(self, loan):
        return actor_display(loan.approved_by) if loan.approved_by else "—"

    @admin.display(description="rejected or withdrawn by")
    def decider(self, loan):
        return actor_display(loan.decided_by) if loan.decided_by else "—"

    @admin.display(description="disbursement journal")
    def disbursement(self, loan):
        journal = loan.disbursement_journal
        return "—" if journal is None else change_link(journal, "Journal")

    # --- pages ---

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .with_outstanding()
            .with_collateral_value()
            .select_related("customer", "product", "account")
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # A loan's page is read-only: it changes only by the decisions below.
        return obj is None and super().has_change_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name in ("soft_delete_selected", "restore_selected"):
            actions.pop(name, None)  # loans end by their lifecycle, never deleted by staff
        return actions

    def save_model(self, request, obj, form, change):
        try:
            loan = services.apply_for_loan(**form.cleaned_data, by=request.user)
        except rules.TermsViolation as refusal:  # shown on the term it names
            raise ValidationError({refusal.field: str(refusal)}) from refusal
        obj.pk, obj.reference = loan.pk, loan.reference

    def object_label(self, loan):
        return f"{loan.reference} · {loan.customer.display_name}"

    def reject_consequences(self, loan):
        currency = loan.currency
        return [
            f"The application for {money(loan.principal, currency)} {currency} ends: status "
            "becomes rejected, with the reason below, and it can no longer be approved.",
        ]

    def write_off_consequences(self, loan):
        currency = loan.currency
        return [
            f"Outstanding principal {money(loan.outstanding_principal, currency)} {currency} "
            "moves from the loan portfolio to write-off expense (one journal).",
            "Status becomes written off: no more repayments are expected on this loan.",
        ]

    # --- decisions: changelist actions and buttons on the loan's page ---

    approve = _decision_action("approve", _approve)
    reject = _decision_action("reject", _reject, form_class=RejectionForm)
    disburse = _decision_action("disburse", _disburse)
    write_off = _decision_action("write_off", _write_off)

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("par/", view(self.par_view), name="lending_loan_par"),
            path("<path:object_id>/payoff/", view(self.payoff_view), name="lending_loan_payoff"),
            path(
                "<path:object_id>/decide/<slug:name>/",
                view(self.decision_view),
                name="lending_loan_decide",
            ),
            *super().get_urls(),
        ]

    def decision_view(self, request, object_id, name):
        """One decision on one loan: approve and disburse are POST buttons; reject, repay and
        collateral are forms; writing off asks first."""
        loan = self.get_object(request, unquote(object_id))
        if loan is None or name not in DECISIONS:
            raise Http404("No such loan or decision.")
        decision = DECISIONS[name]
        if not self.has_change_permission(request):  # the decisions, not the page's form
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:lending_loan_change", args=[loan.pk]))
        if name in FORMS:
            return self.form_view(request, loan, name, back)
        if name == "write_off":
            response = self.write_off(request, self.get_queryset(request).filter(pk=loan.pk))
            if response is not None:
                response.context_data["form_url"] = request.path
                response.context_data["cancel_url"] = back.url
                return response
            return back
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if name == "approve":
            self.apply_to_each(request, [loan], _approve, decision.verb)
        else:  # disburse, once per key however often the button is pressed
            form = DisbursementForm(request.POST)
            key = form.data.get("idempotency_key", "") if form.is_valid() else ""

            def disburse(req, loan):
                services.disburse_loan(loan=loan, idempotency_key=key, by=req.user)

            self.apply_to_each(request, [loan], disburse, decision.verb)
        return back

    def page_context(self, request, title, form, **extra):
        """The context of a page of the loan admin's own (a staff form, the payoff, PAR)."""
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            **extra,
        }

    def form_view(self, request, loan, name, back):
        """The staff form of a rejection, a repayment or collateral on this loan."""
        title, form_class, submit = FORMS[name]
        kwargs = {} if form_class is RejectionForm else {"loan": loan}
        form = form_class(request.POST or None, **kwargs)
        if request.method == "POST" and form.is_valid():
            try:
                message = self.submit(request, loan, name, form.cleaned_data)
            except REFUSALS as error:
                for field, text in refusal_messages(error):
                    form.add_error(field if field in form.fields else None, text)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return back
        context = self.page_context(
            request,
            f"{title} {self.object_label(loan)}",
            form,
            loan=loan,
            submit_label=submit,
            principal=f"{money(loan.principal, loan.currency)} {loan.currency}",
        )
        return TemplateResponse(request, "admin/lending/loan/loan_form.html", context)

    def submit(self, request, loan, name, data):
        currency = loan.currency
        if name == "reject":
            _reject(request, loan, **data)
            return f"Rejected {loan.reference}."
        if name == "repay":
            repayment = services.repay_loan(
                loan=loan,
                amount=data["amount"],
                received_on=data["received_on"],
                idempotency_key=data["idempotency_key"],
                by=request.user,
            )
            return f"Repaid {money(repayment.amount, currency)} {currency} on {loan.reference}."
        if name == "reverse_repayment":
            repayment = services.reverse_repayment(repayment=data["repayment"], by=request.user)
            return (
                f"Reversed the repayment of {money(repayment.amount, currency)} {currency} "
                f"received on {repayment.received_on.isoformat()} on {loan.reference}."
            )
        collateral = services.add_collateral(loan=loan, **data, by=request.user)
        return f"Added {collateral.get_type_display().lower()} to {loan.reference}."

    def decision_buttons(self, request, loan):
        """[(label, url, kind)] for the loan's page: kind "post" (a button), "link"."""
        if loan is None or loan.is_deleted or not self.has_change_permission(request):
            return []
        buttons = []
        for name, decision in DECISIONS.items():
            if not decision.allowed_from(loan):
                continue
            if name == "reverse_repayment" and not services.standing_repayments(loan).exists():
                continue  # nothing to reverse
            url = reverse("admin:lending_loan_decide", args=[loan.pk, name])
            kind = "link" if name in FORMS or decision.confirm else "post"
            buttons.append((decision.label, url, kind))
        return buttons

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["decision_buttons"] = self.decision_buttons(request, obj)
        context["disbursement_form"] = DisbursementForm()
        if obj is not None and obj.status == Status.WRITTEN_OFF:
            context["record_banner"] = "Written off: no more repayments are expected."
        elif obj is not None and obj.days_past_due:
            context["record_banner"] = f"In arrears: {obj.days_past_due} days past due."
        return super().render_change_form(request, context, add, change, form_url, obj)

    def payoff_view(self, request, object_id):
        """What closes the loan on a date (`?on=`, default today), by component: the figure a
        customer asks for before paying the loan off (`lending.selectors.payoff`)."""
        loan = self.get_object(request, unquote(object_id))
        if loan is None:
            raise Http404("No such loan.")
        if not self.has_view_permission(request, loan):
            raise PermissionDenied
        form = ReportDateForm(request.GET or None)
        figures, on = None, timezone.localdate()
        if not form.is_bound or form.is_valid():  # a malformed date shows its error, no figures
            on = (form.cleaned_data["on"] if form.is_bound else None) or on
            try:
                figures = selectors.payoff(loan, on=on)
            except ValidationError as refusal:  # a date before the disbursement
                form.add_error("on", refusal.messages[0])
        currency = loan.currency
        rows = [
            (name.capitalize(), f"{money(figures[name], currency)} {currency}")
            for name in ("principal", "interest", "fees", "penalties", "total")
            if figures
        ]
        context = self.page_context(
            request,
            f"Payoff of {self.object_label(loan)}",
            form,
            loan=loan,
            on=on,
            active=loan.status == Status.ACTIVE,
            rows=rows,
        )
        return TemplateResponse(request, "admin/lending/loan/payoff.html", context)

    # --- portfolio at risk ---

    def par_view(self, request):
        """PAR 1/30/60/90 per product on a date (`?on=`, default today), from
        `lending.reports.portfolio_at_risk`."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ReportDateForm(request.GET or None)
        on = form.cleaned_data["on"] if form.is_valid() else None
        report = reports.portfolio_at_risk(on=on or timezone.localdate())

        def shown(row):
            figures = [
                (money(row.at_risk[days], row.currency), row.ratio(days))
                for days in reports.THRESHOLDS
            ]
            return {
                "name": row.name,
                "currency": row.currency,
                "loans": row.loans,
                "outstanding": money(row.outstanding, row.currency),
                "figures": figures,
            }

        context = self.page_context(
            request,
            "Portfolio at risk",
            form,
            report=report,
            thresholds=reports.THRESHOLDS,
            rows=[shown(row) for row in report.products],
            totals=[shown(row) for row in report.totals],
        )
        return TemplateResponse(request, "admin/lending/loan/par.html", context)


# name -> (title, form, submit label)
FORMS = {
    "reject": ("Reject", RejectionForm, "Reject"),
    "repay": ("Repayment on", RepaymentForm, "Repay"),
    "reverse_repayment": ("Reverse the latest repayment of", RepaymentReversalForm, "Reverse"),
    "add_collateral": ("Collateral for", CollateralForm, "Add collateral"),
}


@admin.register(Collateral)
class CollateralAdmin(SoftDeleteAdminMixin, TenantScopedAdmin):
    """Collateral is added from its loan's page; here it is listed, and its history shown."""

    list_display = ["loan", "type", "description", "shown_value", "valuation_date", "guarantor"]
    list_filter = ["type"]
    list_select_related = ["loan", "guarantor"]
    search_fields = ["loan__reference", "description"]
    readonly_fields = [
        "loan",
        "type",
        "description",
        "shown_value",
        "valuation_date",
        "guarantor",
    ]
    fields = readonly_fields

    @admin.display(description="value")
    def shown_value(self, collateral):
        return f"{money(collateral.value, collateral.currency)} {collateral.currency}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)
