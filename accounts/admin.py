"""The ledger's back office: accounts (with their balances, recent postings and holds), the
staff forms that move money, and read-only journals, postings and holds that stay fast on a
ledger of millions of postings.

Every change goes through `accounts.services`; a refusal is a message or a form error on the
same page, never a 500.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import router, transaction
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts import rules, services
from accounts.admin_forms import (
    AccountChangeForm,
    MoneyMovementForm,
    OpenAccountForm,
    ReversalForm,
    TransferForm,
)
from accounts.currencies import minor_unit
from accounts.models import Account, Hold, InternalCode, Journal, Posting
from core.admin_base import (
    REFUSALS,
    SoftDeleteAdminMixin,
    TenantScopedAdmin,
    refusal_messages,
    refusal_text,
)

LEDGER_CSS = {"all": ["accounts/admin.css"]}

Status = Account.Status

# --- display helpers -------------------------------------------------------------------------


def money(amount, currency):
    """1250.5 EUR -> "1,250.50", in the currency's minor unit (JPY: "1,250")."""
    if amount is None:
        return "—"
    places = minor_unit(currency)
    return f"{amount.quantize(Decimal(1).scaleb(-places)):,}"


def signed_money(amount, currency):
    """Postings read as statements do: "+100.00" credited, "-40.00" debited."""
    text = money(amount, currency)
    return text if amount < 0 else f"+{text}"


def signed_with_currency(amount, currency):
    return f"{signed_money(amount, currency)} {currency}"


def account_label(account):
    """ "ACC-000001 · Jane Doe" for a customer's account, "SETTLEMENT-EUR · internal" else."""
    if account.customer_id is None:
        return f"{account.reference} · internal"
    return f"{account.reference} · {account.customer.display_name}"


def change_link(obj, text=None):
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else str(obj))


def reversal_of(journal):
    """The journal reversing `journal`, or None."""
    try:
        return journal.reversed_by
    except Journal.reversed_by.RelatedObjectDoesNotExist:
        return None


def can_move_money(request):
    """Deposits, withdrawals, transfers and reversals each write a journal."""
    return request.user.has_perm("accounts.add_journal")


class CappedCountPaginator(Paginator):
    """Counts at most `cap` + 1 rows (`SELECT COUNT(*) FROM (… LIMIT cap + 1)`), so a page of
    a ledger with millions of postings never counts them all. Past the cap the changelist
    says "more than", and staff narrow the list by date, account or kind."""

    cap = 10_000

    @cached_property
    def count(self):
        return self.object_list[: self.cap + 1].count()

    @property
    def capped(self):
        return self.count > self.cap


class LedgerListMixin:
    """Changelists that stay fast however large the ledger: no full count, a capped one."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50


# --- inlines on the account page ---------------------------------------------------------------


class NewestFirstFormSet(BaseInlineFormSet):
    """Only the newest `inline.max_shown` rows: an account's page costs the same with ten
    postings or ten million."""

    max_shown = 20

    def get_queryset(self):
        if not hasattr(self, "_bounded"):
            self._bounded = super().get_queryset()[: self.max_shown]
        return self._bounded


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    formset = NewestFirstFormSet

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RecentPostingsInline(ReadOnlyInline):
    model = Posting
    fk_name = "account"
    fields = [
        "posted_at",
        "kind",
        "signed_amount",
        "shown_balance_after",
        "description",
        "journal_link",
    ]
    readonly_fields = fields
    verbose_name = "posting"
    verbose_name_plural = f"Recent postings (newest {NewestFirstFormSet.max_shown} first)"

    @admin.display(description="amount")
    def signed_amount(self, posting):
        return signed_money(posting.amount, posting.account.currency)

    @admin.display(description="balance after")
    def shown_balance_after(self, posting):
        return money(posting.balance_after, posting.account.currency)

    @admin.display(description="journal")
    def journal_link(self, posting):
        return change_link(posting.journal, "Journal")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("account", "journal")
            .order_by("-posted_at", "-id")
        )


class HoldsInline(ReadOnlyInline):
    model = Hold
    fields = ["created_at", "shown_amount", "reason", "expires_at", "shown_status", "released_at"]
    readonly_fields = fields
    verbose_name_plural = f"Holds (newest {NewestFirstFormSet.max_shown} first)"

    @admin.display(description="amount")
    def shown_amount(self, hold):
        return money(hold.amount, hold.account.currency)

    @admin.display(description="status")
    def shown_status(self, hold):
        return hold.status

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account").order_by("-id")


# --- accounts --------------------------------------------------------------------------------


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("customer", "Customer accounts"), ("internal", "Internal ledger accounts")]

    def queryset(self, request, queryset):
        if self.value() == "customer":
            return queryset.filter(customer__isnull=False)
        if self.value() == "internal":
            return queryset.filter(customer__isnull=True)
        return queryset


class CurrencyFilter(admin.SimpleListFilter):
    """The currencies the bank keeps accounts in: each has its settlement account, so a
    handful of rows answer it instead of a DISTINCT over every account."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        currencies = Account.objects.filter(internal_code=InternalCode.SETTLEMENT)
        codes = sorted(set(currencies.values_list("currency", flat=True)))
        return [(code, code) for code in codes]

    def queryset(self, request, queryset):
        return queryset.filter(currency=self.value()) if self.value() else queryset


@dataclass(frozen=True)
class Transition:
    name: str  # of accounts.rules.TRANSITIONS, which says where it may go from
    label: str
    verb: str  # for the message: "Froze 1 account."
    service: str
    confirm: str = ""  # non-empty: ask first, with this as the page's title

    def allowed_from(self, account):
        return account.status in rules.TRANSITIONS[self.name][0]

    def apply(self, request, account):
        getattr(services, self.service)(account=account, by=request.user)


TRANSITIONS = {
    "freeze": Transition("freeze", "Freeze", "Froze", "freeze_account"),
    "unfreeze": Transition("unfreeze", "Unfreeze", "Unfroze", "unfreeze_account"),
    "close": Transition(
        "close", "Close…", "Closed", "close_account", confirm="Close these accounts?"
    ),
}


def _transition_action(name):
    transition = TRANSITIONS[name]

    def action(self, request, queryset):
        return self.run_transition(request, queryset, name, action=name)

    action.__name__ = name
    return admin.action(
        description=f"{transition.label} selected accounts", permissions=["change"]
    )(action)


# Staff forms on an account's page: URL name -> (title, form, service, verb)
MONEY_FORMS = {
    "deposit": ("Deposit into", MoneyMovementForm, "deposit", "Deposited"),
    "withdraw": ("Withdraw from", MoneyMovementForm, "withdraw", "Withdrew"),
    "transfer": ("Transfer from", TransferForm, "transfer", "Transferred"),
}


@admin.register(Account)
class AccountAdmin(LedgerListMixin, SoftDeleteAdminMixin, TenantScopedAdmin):
    form = AccountChangeForm
    add_form = OpenAccountForm
    change_form_template = "admin/accounts/account/change_form.html"
    list_display = [
        "reference",
        "account_number",
        "holder",
        "product",
        "currency",
        "status",
        "shown_balance",
        "shown_available_balance",
    ]
    list_filter = [KindFilter, "status", "product", CurrencyFilter]
    search_fields = ["reference", "account_number", "customer__search_name", "name"]
    search_help_text = "Reference, account number, or the customer's name."
    list_select_related = ["customer", "ledger_balance"]
    autocomplete_fields = ["customer"]
    ordering = ["reference"]
    actions = ["freeze", "unfreeze", "close"]
    inlines = [RecentPostingsInline, HoldsInline]

    class Media:
        css = LEDGER_CSS

    readonly_fields = [
        "reference",
        "account_number",
        "holder",
        "product",
        "currency",
        "status",
        "shown_balance",
        "shown_held",
        "shown_available_balance",
        "opened_on",
        "closed_on",
        "all_postings",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "reference",
                    "account_number",
                    "holder",
                    "product",
                    "currency",
                    "status",
                    "overdraft_limit",
                ]
            },
        ),
        (
            "Balance",
            {
                "fields": [
                    "shown_balance",
                    "shown_held",
                    "shown_available_balance",
                    "all_postings",
                ]
            },
        ),
        ("Record", {"fields": ["opened_on", "closed_on", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [(None, {"fields": ["customer", "product", "currency", "overdraft_limit"]})]

    # --- columns and fields ---

    @admin.display(description="customer", ordering="customer__search_name")
    def holder(self, account):
        if account.customer_id is None:
            return format_html(
                '<span class="internal-account">Internal</span> {}',
                account.name or account.get_internal_code_display(),
            )
        return change_link(account.customer, account.customer.display_name)

    @admin.display(description="balance", ordering="ledger_balance__balance")
    def shown_balance(self, account):
        return money(account.balance, account.currency)

    @admin.display(description="held")
    def shown_held(self, account):
        return money(account.held_amount, account.currency)

    @admin.display(description="available balance")
    def shown_available_balance(self, account):
        return money(account.available_balance, account.currency)

    @admin.display(description="postings")
    def all_postings(self, account):
        url = reverse("admin:accounts_posting_changelist")
        query = urlencode({"account__id__exact": account.pk})
        return format_html('<a href="{}?{}">All postings of this account</a>', url, query)

    # --- pages ---

    def get_queryset(self, request):
        # Selecting related rows here, Django's changelist skips list_select_related.
        return super().get_queryset(request).with_balances().select_related("customer")

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
        editable = obj is None or (obj.status != Status.CLOSED and not obj.is_deleted)
        return editable and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            account = Account.objects.get(pk=obj.pk)  # as stored: the service sees old and new
            services.update_account(account=account, changes=form.changes(), by=request.user)
        else:
            opened = services.open_account(**form.cleaned_data, by=request.user)
            obj.pk, obj.reference = opened.pk, opened.reference

    # --- freeze, unfreeze, close: changelist actions and buttons on the account page ---

    freeze = _transition_action("freeze")
    unfreeze = _transition_action("unfreeze")
    close = _transition_action("close")

    def close_consequences(self, account):
        return [
            f"Balance {money(account.balance, account.currency)} {account.currency}, held "
            f"{money(account.held_amount, account.currency)}: refused unless both "
            "are zero.",
            "Status becomes closed. Closed is final: nothing posts to it again; its postings "
            "stay for statements and the audit trail.",
        ]

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

    def object_label(self, account):
        return account_label(account)

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path(
                "<path:object_id>/lifecycle/<slug:name>/",
                view(self.lifecycle_view),
                name="accounts_account_lifecycle",
            ),
            *(
                path(
                    f"<path:object_id>/{name}/",
                    view(self.money_view),
                    {"name": name},
                    name=f"accounts_account_{name}",
                )
                for name in MONEY_FORMS
            ),
            *super().get_urls(),
        ]

    def _account_or_404(self, request, object_id):
        account = self.get_object(request, unquote(object_id))
        if account is None:
            raise Http404("No such account.")
        return account

    def lifecycle_view(self, request, object_id, name):
        """Freeze or unfreeze (POST), or close (GET: the confirmation page, posting back)."""
        account = self._account_or_404(request, object_id)
        if name not in TRANSITIONS:
            raise Http404("No such transition.")
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:accounts_account_change", args=[account.pk]))
        if not (TRANSITIONS[name].confirm or request.method == "POST"):
            return HttpResponseNotAllowed(["POST"])
        response = self.run_transition(request, [account], name, form_url=request.path)
        if response is not None:
            response.context_data["cancel_url"] = back.url
            return response
        return back

    def money_view(self, request, object_id, name):
        """The staff form of a deposit, withdrawal or transfer from this account."""
        account = self._account_or_404(request, object_id)
        if not can_move_money(request):
            raise PermissionDenied
        title, form_class, service, verb = MONEY_FORMS[name]
        form = form_class(request.POST or None, account=account)
        if request.method == "POST" and form.is_valid():
            arguments = form.cleaned_data
            if name == "transfer":
                arguments = {**arguments, "from_account": account}
            else:
                arguments = {**arguments, "account": account}
            try:  # the service is its own transaction, retried on a deadlock
                getattr(services, service)(**arguments, by=request.user)
            except REFUSALS as error:
                for field, message in refusal_messages(error):
                    form.add_error(field if field in form.fields else None, message)
            else:
                amount = money(form.cleaned_data["amount"], account.currency)
                self.message_user(
                    request,
                    f"{verb} {amount} {account.currency} "
                    + (
                        f"to {form.cleaned_data['to_account'].reference}."
                        if name == "transfer"
                        else f"{'into' if name == 'deposit' else 'from'} {account.reference}."
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:accounts_account_change", args=[account.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title} {account_label(account)}",
            "opts": self.opts,
            "account": account,
            "form": form,
            "media": self.media + form.media,
            "submit_label": name.capitalize(),
            "balance": money(account.balance, account.currency),
            "available": money(account.available_balance, account.currency),
        }
        return TemplateResponse(request, "admin/accounts/account/money_form.html", context)

    def account_buttons(self, request, account):
        """[(label, url, is a POST button)] for the account's page."""
        if account is None or account.is_deleted or account.status == Status.CLOSED:
            return []
        buttons = []
        if can_move_money(request):
            buttons += [
                (label, reverse(f"admin:accounts_account_{name}", args=[account.pk]), False)
                for name, label in (
                    ("deposit", "Deposit…"),
                    ("withdraw", "Withdraw…"),
                    ("transfer", "Transfer…"),
                )
            ]
        if self.has_change_permission(request, account):
            buttons += [
                (
                    t.label,
                    reverse("admin:accounts_account_lifecycle", args=[account.pk, name]),
                    not t.confirm,
                )
                for name, t in TRANSITIONS.items()
                if t.allowed_from(account)
            ]
        return buttons

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["account_buttons"] = self.account_buttons(request, obj)
        if obj is not None and obj.status == Status.CLOSED:
            context["record_banner"] = "Closed: nothing posts to this account again."
        elif obj is not None and obj.status == Status.FROZEN:
            context["record_banner"] = "Frozen: nothing posts to this account until unfrozen."
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- holds -----------------------------------------------------------------------------------


@admin.register(Hold)
class HoldAdmin(LedgerListMixin, TenantScopedAdmin):
    list_display = [
        "created_at",
        "account",
        "shown_amount",
        "reason",
        "expires_at",
        "shown_status",
        "released_at",
    ]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    search_fields = ["=account__reference", "=account__account_number"]
    search_help_text = "An account's reference or number, exactly."
    ordering = ["-id"]
    actions = ["release_selected"]

    class Media:
        css = LEDGER_CSS

    readonly_fields = [
        "public_id",
        "account",
        "shown_amount",
        "reason",
        "expires_at",
        "shown_status",
        "created_at",
        "released_at",
        "released_by",
    ]
    fields = readonly_fields

    @admin.display(description="amount")
    def shown_amount(self, hold):
        return money(hold.amount, hold.account.currency)

    @admin.display(description="status")
    def shown_status(self, hold):
        return hold.status

    def has_add_permission(self, request):
        return False  # placed by the API (a card authorisation, a pending payment)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_release_permission(self, request):
        return request.user.has_perm("accounts.change_hold")

    @admin.action(description="Release selected holds", permissions=["release"])
    def release_selected(self, request, queryset):
        done, refused = 0, []
        for hold in queryset.select_related("account"):
            try:
                with transaction.atomic(using=router.db_for_write(Hold)):
                    services.release_hold(hold=hold, by=request.user)
                done += 1
            except REFUSALS as error:
                refused.append(f"Hold {hold.public_id}: {refusal_text(error)}")
        if done:
            self.message_user(request, f"Released {done} hold(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.ERROR)


# --- journals and postings: the ledger itself, read-only ---------------------------------------


class LedgerRecordAdmin(LedgerListMixin, TenantScopedAdmin):
    """Journals and postings are never changed or deleted (a reversal compensates a journal).
    They are not history-tracked, since the ledger is its own history: an object's "history"
    is its journal's audit event."""

    class Media:
        css = LEDGER_CSS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such object.")
        journal = obj if isinstance(obj, Journal) else obj.journal
        query = urlencode({"resource_type": "journal", "q": journal.public_id})
        return HttpResponseRedirect(f"{reverse('admin:audit_auditevent_changelist')}?{query}")

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        raise Http404("The ledger keeps no versions: it is never changed.")


class JournalPostingsInline(ReadOnlyInline):
    model = Posting
    fk_name = "journal"
    formset = BaseInlineFormSet  # a journal has a handful of postings: all of them
    fields = ["account", "signed_amount", "shown_balance_after", "description"]
    readonly_fields = fields
    verbose_name_plural = "postings"

    @admin.display(description="amount")
    def signed_amount(self, posting):
        return signed_with_currency(posting.amount, posting.account.currency)

    @admin.display(description="balance after")
    def shown_balance_after(self, posting):
        return money(posting.balance_after, posting.account.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account").order_by("id")


@admin.register(Journal)
class JournalAdmin(LedgerRecordAdmin):
    change_form_template = "admin/accounts/journal/change_form.html"
    list_display = ["created_at", "kind", "description", "actor", "channel", "reversal"]
    list_filter = ["kind"]  # has choices: no DISTINCT over the journals
    search_fields = ["=idempotency_key", "=request_id"]
    search_help_text = "A journal's id, idempotency key or request id, exactly."
    list_select_related = ["reversal_of", "reversed_by"]
    ordering = ["-created_at", "-id"]
    fields = [
        "public_id",
        "kind",
        "description",
        "value_date",
        "created_at",
        "actor",
        "channel",
        "request_id",
        "idempotency_key",
        "reversal",
    ]
    readonly_fields = fields
    inlines = [JournalPostingsInline]

    @admin.display(description="reversal")
    def reversal(self, journal):
        if journal.reversal_of_id is not None:
            return format_html(
                "Reverses {}", change_link(journal.reversal_of, journal.reversal_of.public_id)
            )
        reversed_by = reversal_of(journal)
        if reversed_by is not None:
            return format_html("Reversed by {}", change_link(reversed_by, reversed_by.public_id))
        return "—"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        try:
            return queryset.filter(public_id=uuid.UUID(term)), False
        except ValueError:
            pass
        if "\x00" in term:  # PostgreSQL refuses NUL in text
            return queryset.none(), False
        return super().get_search_results(request, queryset, term)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/reverse/",
                self.admin_site.admin_view(self.reverse_view),
                name="accounts_journal_reverse",
            ),
            *super().get_urls(),
        ]

    def reverse_view(self, request, object_id):
        """The confirmation page of a reversal: the journal's postings and the compensating
        ones it will post; the reversal itself on the POST that confirms it."""
        journal = self.get_object(request, unquote(object_id))
        if journal is None:
            raise Http404("No such journal.")
        if not can_move_money(request):
            raise PermissionDenied
        form = ReversalForm(request.POST or None)
        if request.method == "POST" and request.POST.get("post") == "yes" and form.is_valid():
            try:
                reversal = services.reverse_journal(
                    journal=journal, description=form.cleaned_data["description"], by=request.user
                )
            except REFUSALS as error:
                for _field, message in refusal_messages(error):
                    form.add_error(None, message)
            else:
                self.message_user(
                    request, f"Reversed journal {journal.public_id}.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:accounts_journal_change", args=[reversal.pk])
                )
        postings = list(journal.postings.select_related("account").order_by("id"))
        rows = [
            (
                posting.account,
                signed_with_currency(posting.amount, posting.account.currency),
                signed_with_currency(-posting.amount, posting.account.currency),
            )
            for posting in postings
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reverse this {journal.get_kind_display().lower()}?",
            "opts": self.opts,
            "journal": journal,
            "rows": rows,
            "form": form,
            "cancel_url": reverse("admin:accounts_journal_change", args=[journal.pk]),
        }
        return TemplateResponse(request, "admin/accounts/journal/reverse_confirm.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if (
            obj is not None
            and can_move_money(request)
            and obj.kind != Journal.Kind.REVERSAL  # a reversal is not reversed
            and reversal_of(obj) is None
        ):
            context["reverse_url"] = reverse("admin:accounts_journal_reverse", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Posting)
class PostingAdmin(LedgerRecordAdmin):
    """The ledger's postings ("transactions"): served by indexes at any size. Narrow with the
    date drill-down (on `posted_at`), the kind, an account (`?account__id__exact=`, linked
    from each account's page) or an exact search."""

    change_list_template = "admin/accounts/posting/change_list.html"
    list_display = [
        "posted_at",
        "account",
        "kind",
        "signed_amount",
        "shown_balance_after",
        "description",
        "journal_link",
    ]
    list_filter = ["kind"]
    list_select_related = ["account", "journal"]
    raw_id_fields = ["account", "journal"]
    search_fields = ["=external_reference"]
    search_help_text = (
        "Exactly: a posting's or journal's id, an account's reference or number, or an "
        "external reference."
    )
    date_hierarchy = "posted_at"
    ordering = ["-posted_at", "-id"]
    fields = [
        "public_id",
        "posted_at",
        "value_date",
        "account",
        "kind",
        "signed_amount",
        "shown_balance_after",
        "description",
        "external_reference",
        "journal_link",
    ]
    readonly_fields = fields

    @admin.display(description="amount")
    def signed_amount(self, posting):
        return signed_with_currency(posting.amount, posting.account.currency)

    @admin.display(description="balance after")
    def shown_balance_after(self, posting):
        return money(posting.balance_after, posting.account.currency)

    @admin.display(description="journal")
    def journal_link(self, posting):
        return change_link(posting.journal, posting.journal.get_kind_display())

    def get_search_results(self, request, queryset, search_term):
        """Exact matches only, each served by an index: a UUID is a posting or its journal;
        anything else an account reference, account number or external reference."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if "\x00" in term:  # PostgreSQL refuses NUL in text
            return queryset.none(), False
        try:
            public_id = uuid.UUID(term)
        except ValueError:
            accounts = Account.all_objects.filter(reference=term) | Account.all_objects.filter(
                account_number=term
            )
            account_ids = list(accounts.values_list("pk", flat=True)[:2])
            if account_ids:
                return queryset.filter(account_id__in=account_ids), False
            return queryset.filter(external_reference=term), False
        journal = Journal.objects.filter(public_id=public_id).values_list("pk", flat=True).first()
        if journal is not None:
            return queryset.filter(journal_id=journal), False
        return queryset.filter(public_id=public_id), False
