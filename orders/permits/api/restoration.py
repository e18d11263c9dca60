"""The restoration act (multipart), its files as sandboxed downloads, and the public query."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import NotFound
from gis.roles import viewer_for
from gis.serializers import DayField
from orders.permits import selectors
from orders.permits.api.base import ERRORS, TRANSITION_ERRORS, _valid
from orders.permits.api.permits import PermitDetailSerializer, _permit_response
from orders.permits.models import RestorationDocument
from orders.permits.services.lifecycle import permit_restoration_add
from orders.permits.uploads import CONTENT_TYPES, MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, download_name


class RestorationInput(serializers.Serializer):
    restored_on = DayField()
    text = serializers.CharField(max_length=5000)
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False),
        required=False,
        default=list,
        help_text=f"photos (JPEG, PNG, WebP) or PDF documents, each at most "
        f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
    )


class RestorationQuery(serializers.Serializer):
    address = serializers.CharField(max_length=200, help_text="e.g. 2900 Eastern Avenue")
    radius = serializers.FloatField(
        required=False,
        default=selectors.PUBLIC_RADIUS_M,
        min_value=1,
        max_value=selectors.PUBLIC_MAX_RADIUS_M,
        help_text="metres around the address",
    )


class RestorationApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]
    max_body_bytes = MAX_UPLOAD_FILES * MAX_UPLOAD_BYTES + 1024 * 1024  # the files and the form

    @extend_schema(
        summary="The restoration act: date, text and photos or documents (multipart)",
        request={"multipart/form-data": RestorationInput},
        responses={
            201: PermitDetailSerializer,
            **TRANSITION_ERRORS,
            413: OpenApiResponse(description="a file over the size limit"),
        },
        tags=["permits"],
    )
    def post(self, request: Request, pk: int) -> Response:
        viewer = viewer_for(request.user)
        selectors.permit_get(viewer=viewer, permit_id=pk)
        q = _valid(RestorationInput, request.data)
        permit_restoration_add(
            viewer=viewer,
            permit_id=pk,
            restored_on=q["restored_on"],
            text=q["text"],
            files=q["files"],
        )
        return _permit_response(request, pk, status.HTTP_201_CREATED)


class RestorationDocumentApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="One photo or document of a permit's restoration act",
        responses={
            **{(200, content_type): OpenApiTypes.BINARY for content_type in CONTENT_TYPES},
            **ERRORS,
        },
        tags=["permits"],
    )
    def get(self, request: Request, pk: int, document_id: int) -> FileResponse:
        permit = selectors.permit_get(viewer=viewer_for(request.user), permit_id=pk)
        document = RestorationDocument.objects.filter(pk=document_id, act__permit=permit).first()
        if document is None:
            raise NotFound(
                _("No document %(document_id)s in permit %(number)s's act.")
                % {"document_id": document_id, "number": permit.number}
            )
        try:
            handle = document.file.open("rb")
        except FileNotFoundError:
            raise NotFound(_("The file is missing from storage.")) from None
        return uploaded_file_response(
            handle,
            content_type=document.content_type,
            filename=download_name(document.original_name, document.content_type),
        )


# What a browser may do with a file a contractor uploaded: nothing but save it. Even were it
# shown, the sandbox gives it an origin of its own (no cookies, storage or our API) and no script.
UPLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"


def uploaded_file_response(handle: Any, *, content_type: str, filename: str) -> FileResponse:
    """A stored upload as a download: only its checked type, never sniffed, never a page."""
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = UPLOAD_POLICY
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


class PublicRestorationApi(APIView):
    authentication_classes: list = []

    @extend_schema(
        summary="When will my yard be restored: open permits at or near an address",
        description=(
            "Open (issued or in progress) permits within `radius` metres of the address, with "
            "purpose, contractor, deadline, status and days overdue. No personal data."
        ),
        parameters=[RestorationQuery],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 400: ERRORS[400]},
        tags=["public"],
    )
    def get(self, request: Request) -> Response:
        q = _valid(RestorationQuery, request.query_params)
        return Response(
            selectors.restoration_public(
                address=q["address"], radius_m=q["radius"], today=selectors.local_today()
            )
        )
