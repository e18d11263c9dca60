"""The appeals API and the department reports, under /api/."""

from django.urls import path

from orders.appeals import api

urlpatterns = [
    path("appeals", api.AppealListApi.as_view(), name="appeal-list"),
    path("appeals/categories", api.CategoryListApi.as_view(), name="appeal-categories"),
    path("appeals/intake", api.IntakeApi.as_view(), name="appeal-intake"),
    path("appeals/intake/<int:pk>/accept", api.IntakeAcceptApi.as_view(), name="intake-accept"),
    path("appeals/intake/<int:pk>/reject", api.IntakeRejectApi.as_view(), name="intake-reject"),
    path("appeals/confirm/<str:token>", api.AppealConfirmApi.as_view(), name="appeal-confirm"),
    path("appeals/<int:pk>", api.AppealDetailApi.as_view(), name="appeal-detail"),
    path(
        "appeals/<int:pk>/transition", api.AppealTransitionApi.as_view(), name="appeal-transition"
    ),
    path("appeals/<int:pk>/relink", api.AppealRelinkApi.as_view(), name="appeal-relink"),
    path("callbacks", api.CallbackListApi.as_view(), name="callback-list"),
    path("callbacks/<int:pk>/outcome", api.CallbackOutcomeApi.as_view(), name="callback-outcome"),
    path("intake/telegram/<str:secret>", api.TelegramIntakeApi.as_view(), name="intake-telegram"),
    path("reports/departments", api.DepartmentReportApi.as_view(), name="report-departments"),
]
