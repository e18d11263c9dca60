"""The appeals API and the department reports, under /api/."""

from django.urls import path

from orders.appeals.api.appeals import (
    AppealConfirmApi,
    AppealDetailApi,
    AppealListApi,
    AppealRelinkApi,
    AppealTransitionApi,
    CategoryListApi,
)
from orders.appeals.api.callbacks import CallbackListApi, CallbackOutcomeApi
from orders.appeals.api.intake import IntakeAcceptApi, IntakeApi, IntakeRejectApi, TelegramIntakeApi
from orders.appeals.api.reports import DepartmentReportApi

urlpatterns = [
    path("appeals", AppealListApi.as_view(), name="appeal-list"),
    path("appeals/categories", CategoryListApi.as_view(), name="appeal-categories"),
    path("appeals/intake", IntakeApi.as_view(), name="appeal-intake"),
    path("appeals/intake/<int:pk>/accept", IntakeAcceptApi.as_view(), name="intake-accept"),
    path("appeals/intake/<int:pk>/reject", IntakeRejectApi.as_view(), name="intake-reject"),
    path("appeals/confirm/<str:token>", AppealConfirmApi.as_view(), name="appeal-confirm"),
    path("appeals/<int:pk>", AppealDetailApi.as_view(), name="appeal-detail"),
    path("appeals/<int:pk>/transition", AppealTransitionApi.as_view(), name="appeal-transition"),
    path("appeals/<int:pk>/relink", AppealRelinkApi.as_view(), name="appeal-relink"),
    path("callbacks", CallbackListApi.as_view(), name="callback-list"),
    path("callbacks/<int:pk>/outcome", CallbackOutcomeApi.as_view(), name="callback-outcome"),
    path("intake/telegram/<str:secret>", TelegramIntakeApi.as_view(), name="intake-telegram"),
    path("reports/departments", DepartmentReportApi.as_view(), name="report-departments"),
]
