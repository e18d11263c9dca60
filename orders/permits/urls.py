"""Permits, claims and the public restoration query under /api/ (gis/urls.py includes this)."""

from django.urls import path

from orders.permits.api.claims import ClaimApi, ClaimDocumentApi, ClaimListApi
from orders.permits.api.permits import (
    ExtensionRefuseApi,
    PermitApi,
    PermitCancelApi,
    PermitCloseApi,
    PermitConflictsApi,
    PermitExtendApi,
    PermitExtensionRequestApi,
    PermitListApi,
    PermitStartApi,
)
from orders.permits.api.restoration import (
    PublicRestorationApi,
    RestorationApi,
    RestorationDocumentApi,
)

urlpatterns = [
    path("permits", PermitListApi.as_view(), name="permits"),
    path("permits/conflicts", PermitConflictsApi.as_view(), name="permit-conflicts"),
    path("permits/<int:pk>", PermitApi.as_view(), name="permit"),
    path("permits/<int:pk>/start", PermitStartApi.as_view(), name="permit-start"),
    path("permits/<int:pk>/close", PermitCloseApi.as_view(), name="permit-close"),
    path("permits/<int:pk>/cancel", PermitCancelApi.as_view(), name="permit-cancel"),
    path("permits/<int:pk>/extend", PermitExtendApi.as_view(), name="permit-extend"),
    path(
        "permits/<int:pk>/extension-requests",
        PermitExtensionRequestApi.as_view(),
        name="permit-extension-request",
    ),
    path(
        "permits/<int:pk>/extension-requests/<int:extension_id>/refuse",
        ExtensionRefuseApi.as_view(),
        name="permit-extension-refuse",
    ),
    path("permits/<int:pk>/restoration", RestorationApi.as_view(), name="permit-restoration"),
    path(
        "permits/<int:pk>/restoration/documents/<int:document_id>",
        RestorationDocumentApi.as_view(),
        name="permit-restoration-document",
    ),
    path("claims", ClaimListApi.as_view(), name="claims"),
    path("claims/<int:pk>", ClaimApi.as_view(), name="claim"),
    path("claims/<int:pk>/document", ClaimDocumentApi.as_view(), name="claim-document"),
    path("public/restoration", PublicRestorationApi.as_view(), name="public-restoration"),
]
