"""The call-back queue under /api/callbacks (operators): the tasks, and a call's outcome."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis.roles import viewer_for
from orders.appeals import selectors
from orders.appeals.api.appeals import AppealPagination, AppealResidentSerializer
from orders.appeals.api.base import ERRORS, TAG, _valid, require_operator
from orders.appeals.models import Callback
from orders.appeals.services.callbacks import callback_max_tries, callback_record


class CallbackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="open (in the queue) or closed")
    outcome = serializers.CharField(
        help_text="when closed: satisfied, not_satisfied, unreachable, resident_confirmed, "
        "resident_rejected, or moved (the appeal left done otherwise)"
    )
    appeal_id = serializers.IntegerField()
    appeal = serializers.CharField(source="appeal.number", help_text="the appeal's number")
    appeal_status = serializers.CharField(source="appeal.status")
    category = serializers.CharField(source="appeal.category.code")
    category_name = serializers.CharField(source="appeal.category.name")
    address = serializers.CharField(source="appeal.address")
    organisation = serializers.CharField(
        source="appeal.organisation.name", allow_null=True, default=None
    )
    organisation_id = serializers.IntegerField(source="appeal.organisation_id", allow_null=True)
    resident = serializers.SerializerMethodField(help_text="whom to call (operators only)")
    done_at = serializers.DateTimeField(help_text="the done transition this call-back follows")
    due_at = serializers.DateTimeField()
    tries = serializers.IntegerField(help_text="unanswered calls so far")
    max_tries = serializers.SerializerMethodField()
    last_try_at = serializers.DateTimeField(allow_null=True)
    comment = serializers.CharField(help_text="the operator's last note")
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.CharField(source="closed_by.username", allow_null=True, default=None)

    def get_max_tries(self, callback: Callback) -> int:
        return callback_max_tries()

    @extend_schema_field(AppealResidentSerializer)
    def get_resident(self, callback: Callback) -> dict[str, str]:
        appeal = callback.appeal
        return {
            "name": appeal.resident_name,
            "phone": appeal.resident_phone,
            "email": appeal.resident_email,
        }


class CallbackPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CallbackSerializer(many=True)


class CallbackListQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Callback.Status.values,
        default=Callback.Status.OPEN,
        help_text="open (default: the queue, oldest due first) or closed (latest first)",
    )
    organisation = serializers.IntegerField(
        min_value=1, required=False, help_text="the appeal's responsible organisation"
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=selectors.MAX_LIST_LIMIT, required=False
    )
    offset = serializers.IntegerField(min_value=0, required=False)


class CallbackListApi(APIView):
    @extend_schema(
        summary="The call-back queue: residents to ask whether their done appeal was fixed",
        description=(
            "Operators only: it carries the residents' phones and e-mails. A task appears when "
            "an appeal becomes done (none when the resident left no contact)."
        ),
        parameters=[CallbackListQuery],
        responses={200: CallbackPageSerializer, **ERRORS},
        tags=[TAG],
    )
    def get(self, request: Request) -> Response:
        require_operator(viewer_for(request.user))
        q = _valid(CallbackListQuery, request.query_params)
        rows = selectors.callbacks_list(status=q["status"], organisation=q.get("organisation"))
        paginator = AppealPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(CallbackSerializer(page, many=True).data)


class CallbackOutcomeInput(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["satisfied", "not_satisfied", "unreachable"],
        help_text="satisfied: archived; not_satisfied: reopened with half the norm; "
        "unreachable: a try (the CALLBACK_MAX_TRIES-th archives it, resident unreachable)",
    )
    comment = serializers.CharField(max_length=2000, allow_blank=True, default="")


class CallbackOutcomeApi(APIView):
    @extend_schema(
        summary="Record a call-back's outcome (operators): the appeal moves, its history says so",
        request=CallbackOutcomeInput,
        responses={
            200: CallbackSerializer,
            **ERRORS,
            409: OpenApiResponse(description="the call-back is closed already"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, pk: int) -> Response:
        require_operator(viewer_for(request.user))
        data = _valid(CallbackOutcomeInput, request.data)
        callback = callback_record(
            callback_id=pk, outcome=data["outcome"], comment=data["comment"], by=request.user
        )
        return Response(CallbackSerializer(selectors.callbacks_list().get(pk=callback.pk)).data)
