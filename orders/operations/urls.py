"""Operations URLs, included at the root: the API under /api/ and the dashboard page."""

from django.urls import path

from orders.operations import api, api_dashboard, views

urlpatterns: list = [
    # --- dashboard ---
    path("api/dashboard", api_dashboard.DashboardApi.as_view(), name="dashboard"),
    path(
        "api/dashboard/districts",
        api_dashboard.DashboardDistrictsApi.as_view(),
        name="dashboard-districts",
    ),
    path("dashboard", views.dashboard_page, name="dashboard-page"),
    # --- repeated problems and works ---
    path("api/problems/repeated", api.RepeatedProblemsApi.as_view(), name="problems-repeated"),
    path("api/works", api.WorksApi.as_view(), name="works"),
]
