"""Planning URLs, included at the root: the API under /api/, the public plan, the hotspots page."""

from django.urls import path

from orders.planning import api, views

urlpatterns = [
    path("api/yards/ranking", api.YardRankingApi.as_view(), name="planning-ranking"),
    path("api/yards/plans", api.YardPlansApi.as_view(), name="planning-plans"),
    path("api/yards/plans/<int:pk>", api.YardPlanApi.as_view(), name="planning-plan"),
    path(
        "api/yards/plans/<int:pk>/items/<int:item_id>",
        api.YardPlanItemApi.as_view(),
        name="planning-plan-item",
    ),
    path("api/networks/hotspots", api.HotspotsApi.as_view(), name="planning-hotspots"),
    path("api/networks/repairs", api.NetworkRepairsApi.as_view(), name="planning-repairs"),
    path(
        "api/networks/breaks-chart.svg", api.BreaksChartApi.as_view(), name="planning-breaks-chart"
    ),
    # int converters: /yards/plan/abc is a 404, as any page that does not exist.
    path("yards/plan/<int:year>", views.plan_page, name="planning-plan-page"),
    path("yards/plan/<int:year>.csv", views.plan_csv, name="planning-plan-csv"),
    path("yards/plan/<int:year>.geojson", views.plan_geojson, name="planning-plan-geojson"),
    path("planning/hotspots", views.hotspots_page, name="planning-hotspots-page"),
]
