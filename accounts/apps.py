from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and ledger"

    def ready(self):
        from core.scopes import register_scopes

        register_scopes(
            {
                "accounts:read": "read accounts, balances and statements",
                "accounts:write": "open and change accounts, move money, place holds",
            }
        )
