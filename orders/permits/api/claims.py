"""Claims as a resource: the list with their delivery state, one claim, its PDF."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.exceptions import NotFound
from gis.roles import viewer_for
from orders.permits import selectors
from orders.permits.api.base import ERRORS, MAX_ID, _valid
from orders.permits.models import Claim


class ClaimSerializer(serializers.ModelSerializer):
    permit_number = serializers.CharField(source="permit.number")
    recipient_name = serializers.CharField(source="recipient.name")
    document_url = serializers.SerializerMethodField()

    class Meta:
        model = Claim
        fields = (
            "id",
            "number",
            "permit",
            "permit_number",
            "deadline",
            "days_overdue",
            "recipient_kind",
            "recipient",
            "recipient_name",
            "email",
            "delivery",
            "attempts",
            "last_error",
            "last_attempt_at",
            "sent_at",
            "message_id",
            "created_at",
            "document_url",
        )

    def get_document_url(self, claim: Claim) -> str | None:
        return f"/api/claims/{claim.pk}/document" if claim.document else None


class ClaimListQuery(serializers.Serializer):
    delivery = serializers.ChoiceField(choices=Claim.Delivery.choices, required=False)
    permit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class ClaimListApi(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = ClaimSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Claim]:
        q = _valid(ClaimListQuery, self.request.query_params)
        return selectors.claims_list(
            viewer=viewer_for(self.request.user),
            delivery=q.get("delivery"),
            permit_id=q.get("permit"),
        )

    @extend_schema(
        summary="Claims with their delivery state (staff: all; a contractor: those to it)",
        parameters=[ClaimListQuery],
        responses={200: ClaimSerializer(many=True), 401: ERRORS[401]},
        tags=["claims"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class ClaimApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="One claim with its delivery state",
        responses={200: ClaimSerializer, 401: ERRORS[401], 404: ERRORS[404]},
        tags=["claims"],
    )
    def get(self, request: Request, pk: int) -> Response:
        claim = selectors.claim_get(viewer=viewer_for(request.user), claim_id=pk)
        return Response(ClaimSerializer(claim).data)


class ClaimDocumentApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="The claim's PDF",
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            401: ERRORS[401],
            404: ERRORS[404],
        },
        tags=["claims"],
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        claim = selectors.claim_get(viewer=viewer_for(request.user), claim_id=pk)
        if not claim.document:
            raise NotFound(
                _("Claim %(number)s has no PDF yet: it is made when it is sent.")
                % {"number": claim.number}
            )
        try:
            handle = claim.document.open("rb")
        except FileNotFoundError:
            raise NotFound(_("The PDF is missing from storage.")) from None
        return FileResponse(handle, filename=f"{claim.number}.pdf", content_type="application/pdf")
