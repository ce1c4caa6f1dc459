from django.urls import include, path

from config.urls import urlpatterns as project_urls
from core.api.routing import api_path
from tests.core import views

urlpatterns = [
    path(
        "api/v1/test/",
        include(
            [
                *api_path("keys", views.Keys.as_view()),
                *api_path("boom", views.Boom.as_view()),
                *api_path("echo", views.Echo.as_view()),
            ]
        ),
    ),
    *project_urls,
]
