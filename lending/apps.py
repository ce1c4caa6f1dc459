from django.apps import AppConfig


class LendingConfig(AppConfig):
    name = "lending"
    verbose_name = "Lending"

    def ready(self):
        from accounts.blockers import register_closure_check as register_account_check
        from core.scopes import register_scopes
        from customers.blockers import register_closure_check
        from lending import rules

        register_scopes(
            {
                "lending:read": "read loan products, loans and schedules",
                "lending:write": "quote and apply for loans, disburse, repay, add collateral",
                "lending:approve": "approve or reject loan applications",
            }
        )
        # An open loan keeps its customer and its account from closing (or being deleted).
        register_closure_check(rules.open_loans_of)
        register_account_check(rules.open_loans_on)
