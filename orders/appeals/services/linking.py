"""Where an appeal is and what it is about: the link to the nearest object, and its correction.

``appeal_link_auto`` links one appeal as it is registered, ``appeals_link_bulk`` an import's in
two statements; ``appeal_relink`` is an operator's correction, written to the history.
"""

from __future__ import annotations

from typing import Any

from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    Func,
    JSONField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError
from gis.models import User
from layers.registry import LAYERS, source_layers
from layers.selectors import city_check, degrees_for
from orders.appeals.models import Appeal
from orders.appeals.selectors import (
    LINK_CANDIDATES,
    geodesic_distance,
    link_candidates,
    linked_object_exists,
    object_distance_m,
)
from orders.appeals.services.history import _history
from orders.appeals.services.transitions import _locked, _operator


def appeal_link_auto(appeal: Appeal) -> None:
    """Link the nearest object of the category's layer within its radius; never a guess.

    Unlocated, or no object in range: unlinked and flagged for an operator. A category without a
    layer (park maintenance, other) links nothing and flags only an unlocated appeal.
    """
    appeal.linked_layer, appeal.linked_id, appeal.link_distance_m = "", None, None
    appeal.link_method = Appeal.LinkMethod.NONE
    appeal.link_candidates = []
    layer = appeal.category.layer
    if appeal.geom is None:
        appeal.needs_attention = True
        return
    if not layer or layer not in LAYERS:
        appeal.needs_attention = False
        return
    candidates = link_candidates(
        layer=layer, point=appeal.geom, radius_m=appeal.category.link_radius_m
    )
    appeal.link_candidates = candidates
    appeal.needs_attention = not candidates
    if candidates:
        best = candidates[0]
        appeal.linked_layer, appeal.linked_id = layer, best["id"]
        appeal.link_distance_m = best["distance_m"]
        appeal.link_method = Appeal.LinkMethod.AUTO


def appeals_link_bulk(*, layer: str, radius_m: float, appeals: QuerySet[Appeal]) -> None:
    """Link many located appeals at once (imports): two UPDATE statements, no row round trips.

    Per appeal, the objects of ``layer`` within ``radius_m`` (``ST_DWithin`` on the GiST index),
    nearest first by geodesic distance: the best is linked, the first three are its candidates;
    none in range leaves it unlinked and flagged, as ``appeal_link_auto`` does for one appeal.
    """
    spec = LAYERS[layer]
    column = spec.geometry_field.name
    appeals = appeals.filter(geom__isnull=False)
    top_lat = max((abs(g.y) for g in appeals.values_list("geom", flat=True)), default=0.0)
    outer = OuterRef("geom")
    near = (
        spec.model._default_manager.filter(
            Func(
                F(column),
                outer,
                Value(degrees_for(radius_m, top_lat)),
                function="ST_DWithin",
                output_field=BooleanField(),
            )
        )
        .annotate(distance_m=geodesic_distance(F(column), outer))
        .filter(distance_m__lte=radius_m)
        .order_by("distance_m", "pk")
    )
    rounded = Func(
        F("distance_m"), template="round((%(expressions)s)::numeric, 1)", output_field=FloatField()
    )
    found = Exists(near)
    # One statement: the link constraint (a layer only with an id) holds on every row it writes.
    appeals.update(
        linked_layer=Case(When(found, then=Value(layer)), default=Value("")),
        linked_id=Subquery(near.values("pk")[:1]),
        link_distance_m=Subquery(near.annotate(r=rounded).values("r")[:1]),
        link_method=Case(
            When(found, then=Value(Appeal.LinkMethod.AUTO)), default=Value(Appeal.LinkMethod.NONE)
        ),
        link_candidates=Func(
            ArraySubquery(
                near.values(hit=JSONObject(layer=Value(layer), id="pk", distance_m=rounded))[
                    :LINK_CANDIDATES
                ]
            ),
            function="to_jsonb",
            output_field=JSONField(),
        ),
        needs_attention=Case(When(found, then=Value(False)), default=Value(True)),
    )


def appeal_point_check(point: Point | None) -> None:
    """400 unless the point is lon/lat in the city (layers.selectors.city_contains).

    A point that passes leaves with its SRID set to 4326, so callers need not set it.
    """
    if point is None:
        return
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        raise ApplicationError(
            _("A point must be lon/lat: lon within -180…180, lat within -90…90."),
            extra={"fields": {"point": ["Not lon/lat."]}},
        )
    point.srid = 4326
    city_check(point, field="point", what="The point")


def _link_json(appeal: Appeal) -> dict[str, Any] | None:
    if not appeal.linked_layer:
        return None
    return {
        "layer": appeal.linked_layer,
        "id": appeal.linked_id,
        "distance_m": appeal.link_distance_m,
        "method": appeal.link_method,
    }


@transaction.atomic
def appeal_relink(
    *,
    appeal_id: int,
    by: User | None,
    layer: str | None = None,
    object_id: int | None = None,
    point: Point | None = None,
    comment: str = "",
) -> Appeal:
    """An operator's correction of where an appeal is and what it is about.

    ``point`` moves it; ``layer`` + ``object_id`` link that object (an appeal without a point
    takes a point on the object); ``layer=""`` unlinks; neither re-runs the auto-link.
    """
    _operator(by)
    appeal = _locked(appeal_id)
    before = _link_json(appeal)
    appeal_point_check(point)
    if point is not None:
        appeal.geom, appeal.located_by = point, "operator"
    if layer is None and object_id is None:
        appeal_link_auto(appeal)
    elif layer == "":
        appeal.linked_layer, appeal.linked_id, appeal.link_distance_m = "", None, None
        appeal.link_method = Appeal.LinkMethod.OPERATOR
        appeal.needs_attention = appeal.geom is None
    else:
        _link_to(appeal, layer, object_id)
    appeal.save()
    _history(
        appeal,
        action="relinked",
        at=timezone.now(),
        by=by,
        comment=comment,
        data={"from": before, "to": _link_json(appeal), "point_moved": point is not None},
    )
    return appeal


def _link_to(appeal: Appeal, layer: str | None, object_id: int | None) -> None:
    linkable = set(source_layers()) - {"appeals"}
    if layer not in linkable:
        names = ", ".join(sorted(linkable))
        raise ApplicationError(
            _("Unknown layer %(layer)s.") % {"layer": repr(layer)},
            extra={"fields": {"layer": [f"One of: {names}."]}},
        )
    if object_id is None or not linked_object_exists(layer=layer, pk=object_id):
        raise ApplicationError(
            _("No %(layer)s object %(object_id)s.") % {"layer": layer, "object_id": object_id},
            extra={"fields": {"id": ["No such object."]}},
        )
    if appeal.geom is None:
        spec = LAYERS[layer]
        appeal.geom = (
            spec.model._default_manager.filter(pk=object_id)
            .annotate(point=PointOnSurface(spec.geometry_field.name))
            .values_list("point", flat=True)
            .first()
        )
        appeal.located_by = "object"
    appeal.linked_layer, appeal.linked_id = layer, object_id
    appeal.link_distance_m = object_distance_m(layer=layer, pk=object_id, point=appeal.geom)
    appeal.link_method = Appeal.LinkMethod.OPERATOR
    appeal.needs_attention = False
