"""Every layer's label in SQL (the registry's ``label``) reads as its model's ``__str__``.

Nearby builds its Features whole in PostgreSQL, labels included; the object card and the admin
use ``__str__``. Each layer gets rows for every branch of its ``__str__`` (fields empty, the
fallback to the id), and the two must agree row by row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.contrib.gis.geos import MultiLineString, MultiPolygon
from django.db import connection
from psycopg import sql

from layers import models as m
from layers.registry import LAYERS
from layers.sql import label_expression
from orders.appeals.models import Appeal, Category
from orders.operations.models import RepeatedProblem
from orders.planning.models import ImprovementWork, Incident, YardPlanItem
from tests.factories import at, line, rectangle
from tests.orders.operations.conftest import make_works

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_layer(db) -> None:
    """Rows of every layer, each ``__str__`` branch at least once."""
    orgs = {
        "acme": m.Organisation.objects.create(
            name="Acme Digging", kind=m.Organisation.Kind.CONTRACTOR
        ),
        "other": m.Organisation.objects.create(
            name="Other Works", kind=m.Organisation.Kind.CONTRACTOR
        ),
        "water": m.Organisation.objects.create(name="Водоканал", kind=m.Organisation.Kind.SERVICE),
    }
    # Permits, a yard plan of record and network repairs: the works view shows all three.
    works = make_works(orgs)
    item = works["yards"]["Y1"]
    YardPlanItem.objects.filter(pk=item.pk).update(address="")
    area, spot, path = rectangle(20, 20), at(10), line()
    for fields in (
        {"street": "улица Ленина", "housenumber": "12 корп. 2", "name": "Школа"},
        {"street": "N Charles St", "housenumber": ""},
        {"housenumber": "16 с1"},
        {"name": "Дом культуры"},
        {},
    ):
        m.Building.objects.create(geom=MultiPolygon(area), **fields)
    lenina = m.Building.objects.get(housenumber="12 корп. 2")
    for fields in (
        {"street": "Армянский переулок", "housenumber": "1/8", "ref": "3"},
        {"kind": "entrance", "ref": "2", "building": lenina},
        {"kind": "entrance", "ref": "1"},
        {"kind": "area", "name": "Школа № 1284"},
        {"building": m.Building.objects.get(name="Дом культуры")},
        {},
    ):
        m.Address.objects.create(geom=spot, **fields)
    for fields in ({"address": "12 Main Street", "name": "Двор"}, {"name": "Двор"}, {}):
        m.Yard.objects.create(geom=area, **fields)
    for model in (m.Playground, m.Camera, m.BusStop):
        model.objects.create(name="Ромашка", geom=spot)
        model.objects.create(geom=spot)
    for fields in ({"name": "Арена", "kind": "soccer"}, {"kind": "tennis"}, {}):
        m.SportsField.objects.create(geom=spot, **fields)
    m.NetworkSegment.objects.create(name="Магистраль 3", kind=m.NetworkKind.HEAT, geom=path)
    segment = m.NetworkSegment.objects.create(kind=m.NetworkKind.WATER, geom=path)
    m.Manhole.objects.create(kind=m.NetworkKind.SEWER, segment=segment, geom=spot)
    m.StreetLight.objects.create(ref="L-7", geom=spot)
    m.StreetLight.objects.create(geom=spot)
    m.District.objects.create(name="Алмалинский", geom=MultiPolygon(area))
    m.Place.objects.create(name="Old Town", kind="neighbourhood", geom=spot)
    routes = MultiLineString(path)
    for fields in ({"ref": "12", "name": "Вокзал — Аэропорт"}, {"ref": "7"}, {"name": "Кольцо"}):
        m.BusRoute.objects.create(geom=routes, **fields)
    m.BusRoute.objects.create(geom=routes)
    m.SnowploughRoute.objects.create(name="Маршрут 1", geom=routes)
    m.SnowploughRoute.objects.create(geom=routes)
    m.Street.objects.create(name="проспект Абая", kind="primary", geom=path)
    m.Street.objects.create(kind="residential", geom=path)
    m.LandArea.objects.create(name="Парк Горького", kind="park", geom=MultiPolygon(area))
    m.LandArea.objects.create(kind="water", geom=MultiPolygon(area))
    category = Category.objects.create(code="pothole", name="Яма во дворе", layer="yards")
    Appeal.objects.create(
        number="A-1",
        channel=Appeal.Channel.PHONE,
        category=category,
        received_at=datetime(2025, 6, 1, tzinfo=UTC),
        geom=spot,
    )
    Incident.objects.create(kind=m.NetworkKind.WATER, occurred_on=date(2025, 3, 9), geom=spot)
    for fields in ({"name": "Благоустройство двора"}, {"address": "улица Ленина, 5"}, {}):
        ImprovementWork.objects.create(geom=MultiPolygon(area), **fields)
    for label in ("12 Main Street", ""):
        RepeatedProblem.objects.create(
            kind="object",
            label=label,
            appeals=4,
            open_share=0.5,
            categories="pothole",
            first_date=date(2025, 1, 1),
            last_date=date(2025, 6, 1),
            geom=spot,
            refreshed_at=datetime(2025, 6, 2, tzinfo=UTC),
        )


@pytest.mark.parametrize("name", list(LAYERS))
def test_sql_label_is_the_models_str(every_layer, name):
    spec = LAYERS[name]
    rows = list(spec.model._default_manager.all())
    assert rows, f"the fixture made no {name}"
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT t.{pk}, {label} FROM {table} t")
            .format(
                pk=sql.Identifier(spec.model._meta.pk.column),
                label=label_expression(spec),
                table=sql.Identifier(spec.model._meta.db_table),
            )
            .as_string(connection.connection)
        )
        labels = dict(cursor.fetchall())
    assert labels == {row.pk: str(row) for row in rows}
