"""The permit lifecycle through the API: issue, start, extend, restoration act, close, cancel."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.permits.models import Extension, Permit, PermitHistory
from orders.permits.selectors import local_today
from tests.factories import bow_tie, pdf_bytes, png_bytes, rectangle
from tests.orders.permits.conftest import site

pytestmark = pytest.mark.django_db

PNG = png_bytes()
PDF = pdf_bytes()


def today_plus(days: int) -> str:
    return (local_today() + timedelta(days=days)).isoformat()


def issue_body(orgs, **changes) -> dict:
    body = {
        "contractor": orgs["acme"].pk,
        "responsible_person": "Ivan Petrov",
        "responsible_phone": "+1 555 0100",
        "purpose": "Replace a water service pipe",
        "network_kind": "water",
        "address": "12 Main Street",
        "geom": json.loads(site(0).geojson),
        "planned_start": today_plus(1),
        "deadline": today_plus(14),
    }
    body.update(changes)
    return body


def post(client, path: str, body: dict | None = None, **headers):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **headers)


def history(permit_id: int) -> list[tuple[str, str, str]]:
    return list(
        PermitHistory.objects.filter(permit_id=permit_id).values_list(
            "action", "from_status", "to_status"
        )
    )


def act(client, permit_id: int, auth, *files, **fields):
    data = {
        "restored_on": local_today().isoformat(),
        "text": "Asphalt relaid, kerb reset",
        **fields,
    }
    if files:
        data["files"] = list(files)
    return client.post(f"/api/permits/{permit_id}/restoration", data, **auth)


def test_whole_lifecycle_issue_start_act_close(client, auth, orgs):
    created = post(client, "/api/permits", issue_body(orgs), **auth("operator"))
    assert created.status_code == 201, created.json()
    feature = created.json()
    pid = feature["id"]
    props = feature["properties"]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    assert props["number"].startswith("EP-") and props["status"] == "issued"
    assert props["contractor_name"] == "Acme Digging"
    assert set(props["linked_objects"]) == {"yards", "networks", "buildings", "streets"}
    assert created.json()["conflicts"] == []

    started = post(client, f"/api/permits/{pid}/start", **auth("acme"))
    assert started.status_code == 200
    assert started.json()["properties"]["status"] == "in_progress"
    assert "close" in started.json()["properties"]["allowed_actions"]

    refused = post(client, f"/api/permits/{pid}/close", **auth("acme"))
    assert refused.status_code == 409
    assert "restoration act" in refused.json()["error"]["message"]

    no_file = act(client, pid, auth("acme"))
    assert no_file.status_code == 400
    photo = SimpleUploadedFile("after.png", PNG, content_type="image/png")
    report = SimpleUploadedFile("report.pdf", PDF, content_type="application/pdf")
    uploaded = act(client, pid, auth("acme"), photo, report)
    assert uploaded.status_code == 201, uploaded.json()
    restoration = uploaded.json()["properties"]["restoration"]
    assert sorted(d["kind"] for d in restoration["documents"]) == ["document", "photo"]

    closed = post(client, f"/api/permits/{pid}/close", {"comment": "Checked"}, **auth("acme"))
    assert closed.status_code == 200
    assert closed.json()["properties"]["status"] == "closed"
    assert closed.json()["properties"]["allowed_actions"] == []
    assert history(pid) == [
        ("issued", "", "issued"),
        ("started", "issued", "in_progress"),
        ("restoration_act", "in_progress", "in_progress"),
        ("closed", "in_progress", "closed"),
    ]
    doc_id = restoration["documents"][0]["id"]
    download = client.get(f"/api/permits/{pid}/restoration/documents/{doc_id}", **auth("operator"))
    assert download.status_code == 200


@pytest.mark.parametrize(
    ("action", "body"),
    [("start", {}), ("close", {}), ("cancel", {"reason": "x"}), ("extend", {"reason": "x"})],
)
def test_a_closed_permit_allows_nothing_409_with_the_allowed_actions(
    client, auth, make_permit, action, body
):
    permit = make_permit()
    Permit.objects.filter(pk=permit.pk).update(status="closed")

    response = post(client, f"/api/permits/{permit.pk}/{action}", body, **auth("operator"))

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "transition_not_allowed"
    assert (error["status"], error["allowed"]) == ("closed", [])


def test_starting_twice_is_409_naming_what_is_allowed(client, auth, make_permit):
    permit = make_permit()  # started
    response = post(client, f"/api/permits/{permit.pk}/start", **auth("acme"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["status"] == "in_progress"
    assert error["allowed"] == ["request_extension", "restoration", "close"]


def test_extension_requested_by_contractor_approved_by_operator_keeps_old_deadline(
    client, auth, make_permit
):
    permit = make_permit()
    old = permit.deadline
    wanted = today_plus(30)

    requested = post(
        client,
        f"/api/permits/{permit.pk}/extension-requests",
        {"new_deadline": wanted, "reason": "Pipes delivered late"},
        **auth("acme"),
    )
    assert requested.status_code == 201, requested.json()
    assert requested.json()["properties"]["deadline"] == old.isoformat()  # not yet
    again = post(
        client,
        f"/api/permits/{permit.pk}/extension-requests",
        {"new_deadline": wanted, "reason": "Again"},
        **auth("acme"),
    )
    assert again.status_code == 409
    ext = Extension.objects.get(permit=permit)
    assert (
        post(
            client, f"/api/permits/{permit.pk}/extend", {"extension": ext.pk}, **auth("acme")
        ).status_code
        == 403
    )

    approved = post(
        client, f"/api/permits/{permit.pk}/extend", {"extension": ext.pk}, **auth("operator")
    )

    assert approved.status_code == 200, approved.json()
    props = approved.json()["properties"]
    assert props["deadline"] == wanted
    [extension] = props["extensions"]
    assert (extension["old_deadline"], extension["new_deadline"], extension["status"]) == (
        old.isoformat(),
        wanted,
        "approved",
    )
    extended = [h for h in props["history"] if h["action"] == "extended"][0]
    assert extended["data"]["old_deadline"] == old.isoformat()
    assert extended["comment"] == "Pipes delivered late"


def test_operator_extends_directly_and_refuses_a_request(client, auth, make_permit):
    permit = make_permit()
    direct = post(
        client,
        f"/api/permits/{permit.pk}/extend",
        {"new_deadline": today_plus(20), "reason": "Frost"},
        **auth("operator"),
    )
    assert direct.status_code == 200
    post(
        client,
        f"/api/permits/{permit.pk}/extension-requests",
        {"new_deadline": today_plus(40), "reason": "More frost"},
        **auth("acme"),
    )
    ext = Extension.objects.get(permit=permit, status="requested")
    refused = post(
        client,
        f"/api/permits/{permit.pk}/extension-requests/{ext.pk}/refuse",
        {"reason": "Finish by the agreed date"},
        **auth("operator"),
    )
    assert refused.status_code == 200
    assert refused.json()["properties"]["deadline"] == today_plus(20)
    assert Extension.objects.get(pk=ext.pk).status == "refused"


def test_new_deadline_must_be_later(client, auth, make_permit):
    permit = make_permit()
    earlier = (permit.deadline - timedelta(days=1)).isoformat()
    response = post(
        client,
        f"/api/permits/{permit.pk}/extend",
        {"new_deadline": earlier, "reason": "x"},
        **auth("operator"),
    )
    assert response.status_code == 400
    assert "new_deadline" in response.json()["error"]["fields"]


def test_cancel_by_operator_only_with_a_reason(client, auth, make_permit):
    permit = make_permit()
    assert (
        post(
            client, f"/api/permits/{permit.pk}/cancel", {"reason": "x"}, **auth("acme")
        ).status_code
        == 403
    )
    assert (
        post(client, f"/api/permits/{permit.pk}/cancel", {}, **auth("operator")).status_code == 400
    )
    done = post(
        client, f"/api/permits/{permit.pk}/cancel", {"reason": "Duplicate"}, **auth("operator")
    )
    assert done.status_code == 200 and done.json()["properties"]["status"] == "cancelled"
    assert history(permit.pk)[-1] == ("cancelled", "in_progress", "cancelled")


def test_roles_contractors_and_planners_do_not_issue_public_gets_401(client, auth, orgs):
    body = issue_body(orgs)
    assert post(client, "/api/permits", body, **auth("acme")).status_code == 403
    assert post(client, "/api/permits", body, **auth("planner")).status_code == 403
    assert post(client, "/api/permits", body).status_code == 401
    assert client.get("/api/permits").status_code == 401


def test_update_area_is_checked_again_and_recorded(client, auth, make_permit):
    permit = make_permit()
    new_area = json.loads(rectangle(20, 10, lon=-76.58, lat=39.28).geojson)
    response = client.patch(
        f"/api/permits/{permit.pk}",
        json.dumps({"geom": new_area, "address": "14 Main Street"}),
        content_type="application/json",
        **auth("operator"),
    )
    assert response.status_code == 200, response.json()
    assert response.json()["properties"]["address"] == "14 Main Street"
    last = PermitHistory.objects.filter(permit=permit).last()
    assert last.action == "area_changed"
    assert set(last.data["changes"]) == {"geom", "address"}
    assert (
        client.patch(
            f"/api/permits/{permit.pk}",
            json.dumps({"address": "x"}),
            content_type="application/json",
            **auth("acme"),
        ).status_code
        == 403
    )


# --- bad input: a clear 4xx, never a 500 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"deadline": "2026-13-45"}, "deadline"),
        ({"planned_start": "tomorrow"}, "planned_start"),
        ({"planned_start": "2030-01-10", "deadline": "2030-01-01"}, "deadline"),
        ({"contractor": 999999}, "contractor"),
        ({"contractor": 2**70}, "contractor"),
        ({"geom": {"type": "Point", "coordinates": [0, 0]}}, "geom"),
        ({"geom": "not geojson"}, "geom"),
        ({"geom": {"type": "Polygon", "coordinates": [[[0, 0], [1]]]}}, "geom"),
        (
            {
                "geom": {
                    "type": "Polygon",
                    "coordinates": [[[500, 0], [501, 0], [501, 1], [500, 0]]],
                }
            },
            "geom",
        ),
        (
            {
                "geom": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [-76.57, 39.28, 5],
                            [-76.569, 39.28, 5],
                            [-76.569, 39.281, 5],
                            [-76.57, 39.28, 5],
                        ]
                    ],
                }
            },
            "geom",
        ),
        ({"issued_on": today_plus(3)}, "issued_on"),
        ({"network_kind": "lava"}, "network_kind"),
        ({"purpose": ""}, "purpose"),
    ],
)
def test_bad_issue_input_is_400_naming_the_field(client, auth, orgs, changes, field):
    response = post(client, "/api/permits", issue_body(orgs, **changes), **auth("operator"))
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_nan_coordinates_are_400(client, auth, orgs):
    ring = [[float("nan"), 0], [1, 0], [1, 1], [float("nan"), 0]]
    body = issue_body(orgs, geom={"type": "Polygon", "coordinates": [ring]})
    assert post(client, "/api/permits", body, **auth("operator")).status_code == 400


def test_self_intersecting_work_area_is_400_with_the_reason(client, auth, orgs):
    body = issue_body(orgs, geom=json.loads(bow_tie(size=0.0002).geojson))
    response = post(client, "/api/permits", body, **auth("operator"))
    assert response.status_code == 400
    assert "Self-intersection" in response.json()["error"]["message"]


def test_huge_work_area_is_400(client, auth, orgs):
    body = issue_body(orgs, geom=json.loads(rectangle(1000, 1000).geojson))
    response = post(client, "/api/permits", body, **auth("operator"))
    assert response.status_code == 400
    assert "at most" in response.json()["error"]["message"]


def test_oversized_upload_is_413(client, auth, make_permit, monkeypatch):
    from orders.permits.services import lifecycle

    monkeypatch.setattr(lifecycle, "MAX_UPLOAD_BYTES", 1000)
    permit = make_permit()
    big = SimpleUploadedFile("big.png", PNG + b"\x00" * 2000, content_type="image/png")
    response = act(client, permit.pk, auth("acme"), big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_upload_that_is_neither_photo_nor_pdf_is_400(client, auth, make_permit):
    permit = make_permit()
    script = SimpleUploadedFile("photo.png", b"#!/bin/sh\nrm -rf /\n", content_type="image/png")
    response = act(client, permit.pk, auth("acme"), script)
    assert response.status_code == 400
    assert "not a photo" in response.json()["error"]["message"]


def test_restoration_in_the_future_is_400(client, auth, make_permit):
    permit = make_permit()
    photo = SimpleUploadedFile("a.png", PNG, content_type="image/png")
    response = act(client, permit.pk, auth("acme"), photo, restored_on=today_plus(2))
    assert response.status_code == 400


def test_restoration_needs_the_works_to_have_started(client, auth, make_permit):
    permit = make_permit(started=False)
    photo = SimpleUploadedFile("a.png", PNG, content_type="image/png")
    assert act(client, permit.pk, auth("acme"), photo).status_code == 409
