from django.apps import AppConfig
from django.db.models.signals import post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and ledger"

    def ready(self):
        from accounts import internal, rules
        from core.models import Tenant
        from core.scopes import register_scopes
        from customers.blockers import register_closure_check

        register_scopes(
            {
                "accounts:read": "read accounts, balances and statements",
                "accounts:write": "open and change accounts, move money, place holds",
            }
        )
        post_save.connect(
            internal.create_for_new_tenant, sender=Tenant, dispatch_uid="accounts.internal"
        )
        register_closure_check(rules.open_accounts_of)
