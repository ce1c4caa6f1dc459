from django.apps import AppConfig


class LendingConfig(AppConfig):
    name = "lending"
    verbose_name = "Lending"

    def ready(self):
        from core.scopes import register_scopes

        register_scopes(
            {
                "lending:read": "read loan products, loans and schedules",
                "lending:write": "quote and apply for loans, disburse, repay, add collateral",
                "lending:approve": "approve or reject loan applications",
            }
        )
