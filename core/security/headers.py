from django.urls import reverse
from django.utils.cache import patch_cache_control

API_PREFIX = "/api/"


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every API and admin response.

    Both carry personal data (customers, national ids, balances) and a shared or browser cache
    must never keep a copy; marking every response of the two prefixes, error pages included,
    is simpler to trust than marking each view that happens to show personal data.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._admin_prefix = None

    def __call__(self, request):
        response = self.get_response(request)
        if self._admin_prefix is None:
            self._admin_prefix = reverse("admin:index")
        if request.path.startswith((API_PREFIX, self._admin_prefix)):
            patch_cache_control(response, no_store=True, private=True)
        return response
