"""The improvement register of a CIS city: import_layer improvement_works with a --map.

The register as cities publish it (an open-data GeoJSON or CSV): Russian column names, statuses
as words in Russian or Kazakh, dates as ДД.ММ.ГГГГ, works mapped as a MultiPolygon or a Point,
names in Russian and Kazakh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.gis.geos import MultiPolygon, Point
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from gis.roles import PUBLIC
from orders.operations.models import Work
from orders.operations.works import works_on
from orders.permits.models import Claim
from orders.permits.services.sweep import claims_create_overdue
from orders.planning.models import ImprovementWork
from tests.factories import CITY_LAT, CITY_LON, CommandRun, rectangle

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]

MAP = [
    "--map=name=Наименование",
    "--map=name_kk=Атауы",
    "--map=work_kind=Вид работ",
    "--map=address=Адрес",
    "--map=status=Статус",
    "--map=starts_on=Дата начала",
    "--map=ends_on=Дата окончания",
    "--map=organisation=Подрядчик",
    "--id-column=№",
]


def work(number: int, geometry: dict, **columns: str) -> dict:
    return {
        "type": "Feature",
        "properties": {
            "№": number,
            "Наименование": f"Благоустройство двора {number}",
            "Атауы": f"{number} ауланы абаттандыру",
            "Вид работ": "Асфальтирование",
            "Адрес": f"улица Ленина, {number}",
            "Подрядчик": "ТОО «Жол Құрылыс»",
            "Статус": "Планируется",
            "Дата начала": "",
            "Дата окончания": "",
        }
        | columns,
        "geometry": geometry,
    }


def area(east_m: float) -> dict:
    lon = CITY_LON + east_m / 80_000
    return json.loads(MultiPolygon(rectangle(40, 40, lon=lon, lat=CITY_LAT)).geojson)


def spot(east_m: float) -> dict:
    return json.loads(Point(CITY_LON + east_m / 80_000, CITY_LAT + 0.001).geojson)


def register(path: Path, *features: dict) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def last_year(tmp_path: Path) -> Path:
    """Last year's register: planned, in progress, finished, cancelled; ru and kk statuses."""
    return register(
        tmp_path / "благоустройство.geojson",
        work(1, area(0), Статус="Планируется", **{"Дата начала": "01.06.2026"}),
        work(2, area(100), Статус="В работе", **{"Дата начала": "15.05.2025"}),
        work(
            3,
            spot(200),
            Статус="Завершен",
            **{"Дата начала": "01.04.2025", "Дата окончания": "30.06.2025"},
        ),
        work(4, area(300), Статус="Отменен", **{"Дата начала": "2025-04-01"}),
        work(
            5,
            area(400),
            Статус="Аяқталды",
            **{"Дата начала": "01.05.2025", "Дата окончания": "20.05.2025"},
        ),
        work(6, spot(500), Статус="ОРЫНДАЛУДА", **{"Дата начала": "10.11.2026"}),
    )


def test_the_register_imports_with_its_statuses_dates_and_both_names(
    run_command: RunCommand, last_year: Path
) -> None:
    run = run_command("import_layer", "improvement_works", str(last_year), *MAP)

    assert "created 6, " in run.stdout and "rejected 0" in run.stdout
    works = {w.source_id: w for w in ImprovementWork.objects.select_related("organisation")}
    assert {k: w.status for k, w in works.items()} == {
        "1": "planned",
        "2": "in_progress",
        "3": "done",
        "4": "cancelled",
        "5": "done",
        "6": "in_progress",
    }
    assert works["3"].starts_on == date(2025, 4, 1) and works["3"].ends_on == date(2025, 6, 30)
    assert works["4"].starts_on == date(2025, 4, 1)
    assert works["1"].name_kk == "1 ауланы абаттандыру"
    assert works["1"].organisation.name == "ТОО «Жол Құрылыс»"
    assert works["3"].geom.geom_type == "Point" and works["1"].geom.geom_type == "MultiPolygon"


def test_finished_works_are_no_overdue_permits_and_no_claim_is_sent_for_them(
    run_command: RunCommand, last_year: Path
) -> None:
    run_command("import_layer", "improvement_works", str(last_year), *MAP)
    now = timezone.make_aware(datetime(2026, 12, 6, 9))

    claims_create_overdue(now=now)

    assert not Claim.objects.exists()
    shown = {(w.kind, w.object_id): w for w in Work.objects.filter(kind="improvement")}
    done = ImprovementWork.objects.get(source_id="3")
    assert not shown[("improvement", done.pk)].ongoing
    assert ("improvement", ImprovementWork.objects.get(source_id="4").pk) not in shown
    # On a day after its end a finished work is not on the ground; one in progress still is.
    day = date(2026, 12, 1)
    on_the_day = works_on(day=day, today=now.date(), viewer=PUBLIC)
    titles = {f["properties"]["title"] for f in on_the_day["features"]}
    assert titles == {"Благоустройство двора 2", "Благоустройство двора 6"}
    assert on_the_day["counts"]["improvement"] == 2


def test_the_public_sees_the_register_on_the_works_api(
    run_command: RunCommand, last_year: Path, client: Client
) -> None:
    run_command("import_layer", "improvement_works", str(last_year), *MAP)
    today = timezone.localdate()

    response = client.get("/api/works", {"date": (today - timedelta(days=1)).isoformat()})

    assert response.status_code == 200, response.content
    kinds = {f["properties"]["kind"] for f in response.json()["features"]}
    assert "improvement" in kinds


def test_a_status_no_one_knows_is_rejected_naming_the_row(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = register(tmp_path / "r.geojson", work(1, area(0), Статус="Приостановлен"))

    with pytest.raises(CommandError, match="1 rows rejected"):
        run_command("import_layer", "improvement_works", str(path), *MAP)
    assert not ImprovementWork.objects.exists()


@pytest.mark.parametrize(
    ("written", "dayfirst", "read"),
    [
        ("2025-06-30", False, date(2025, 6, 30)),
        ("30.06.2025", False, date(2025, 6, 30)),
        ("3.6.2025", False, date(2025, 6, 3)),
        ("03/06/2025", True, date(2025, 6, 3)),
    ],
)
def test_dates_iso_and_day_first(
    run_command: RunCommand, tmp_path: Path, written: str, dayfirst: bool, read: date
) -> None:
    path = register(
        tmp_path / "r.geojson", work(1, area(0), Статус="Завершен", **{"Дата окончания": written})
    )
    run_command(
        "import_layer", "improvement_works", str(path), *MAP, *(["--dayfirst"] if dayfirst else [])
    )
    assert ImprovementWork.objects.get().ends_on == read


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("03/06/2025", r"'03/06/2025' is not a date \(YYYY-MM-DD or ДД.ММ.ГГГГ\) \(--dayfirst"),
        ("31.02.2025", r"'31.02.2025' is not a date: day is out of range"),
        ("вчера", r"'вчера' is not a date"),
    ],
)
def test_a_date_that_is_not_one_is_rejected_with_the_reason(
    run_command: RunCommand, tmp_path: Path, written: str, reason: str
) -> None:
    path = register(tmp_path / "r.geojson", work(1, area(0), **{"Дата начала": written}))
    report = tmp_path / "report.json"

    with pytest.raises(CommandError):
        run_command("import_layer", "improvement_works", str(path), *MAP, "--report", str(report))
    [rejected] = json.loads(report.read_text())["rejected"]
    assert rejected["row"] == "row 1 (id 1)"
    assert rejected["reason"].startswith("field 'starts_on': ")
    assert re.search(reason, rejected["reason"]), rejected["reason"]
