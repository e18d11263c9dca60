"""Permits, claims and the public restoration query under /api/ (gis/urls.py includes this)."""

from django.urls import path

from orders.permits import api

urlpatterns = [
    path("permits", api.PermitListApi.as_view(), name="permits"),
    path("permits/conflicts", api.PermitConflictsApi.as_view(), name="permit-conflicts"),
    path("permits/<int:pk>", api.PermitApi.as_view(), name="permit"),
    path("permits/<int:pk>/start", api.PermitStartApi.as_view(), name="permit-start"),
    path("permits/<int:pk>/close", api.PermitCloseApi.as_view(), name="permit-close"),
    path("permits/<int:pk>/cancel", api.PermitCancelApi.as_view(), name="permit-cancel"),
    path("permits/<int:pk>/extend", api.PermitExtendApi.as_view(), name="permit-extend"),
    path(
        "permits/<int:pk>/extension-requests",
        api.PermitExtensionRequestApi.as_view(),
        name="permit-extension-request",
    ),
    path(
        "permits/<int:pk>/extension-requests/<int:extension_id>/refuse",
        api.ExtensionRefuseApi.as_view(),
        name="permit-extension-refuse",
    ),
    path("permits/<int:pk>/restoration", api.RestorationApi.as_view(), name="permit-restoration"),
    path(
        "permits/<int:pk>/restoration/documents/<int:document_id>",
        api.RestorationDocumentApi.as_view(),
        name="permit-restoration-document",
    ),
    path("claims", api.ClaimListApi.as_view(), name="claims"),
    path("claims/<int:pk>", api.ClaimApi.as_view(), name="claim"),
    path("claims/<int:pk>/document", api.ClaimDocumentApi.as_view(), name="claim-document"),
    path("public/restoration", api.PublicRestorationApi.as_view(), name="public-restoration"),
]
