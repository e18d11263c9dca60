"""Registration, auto-link per category, the lifecycle and the resident's link (services)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from gis.exceptions import ApplicationError, Conflict, Forbidden, NotFound, Unauthorized
from orders.appeals.lifecycle import TRANSITIONS
from orders.appeals.models import Appeal, AppealHistory
from orders.appeals.services.linking import appeal_relink
from orders.appeals.services.registration import appeal_register, categories_load
from orders.appeals.services.transitions import appeal_confirm_by_resident, appeal_transition
from tests.orders.appeals.conftest import (
    FAR,
    MANHOLE_N,
    NETWORK_N,
    PLAYGROUND_N,
    ROUTE_N,
    STOP_N,
    YARD_N,
    at,
)

S = Appeal.Status
pytestmark = pytest.mark.django_db

# category → (where an appeal of it is, metres; the city object it must link to; distance m)
NEAR = {
    "pothole": ((0, 10), "street", 10),
    "pipe-burst": ((0, NETWORK_N + 12), "pipe", 12),
    "dug-up-yard": ((0, YARD_N), "yard", 0),
    "playground-broken": ((20, PLAYGROUND_N), "playground", 20),
    "bus-stop-damaged": ((0, STOP_N - 15), "stop", 15),
    "snow-not-cleared": ((0, ROUTE_N + 30), "route", 30),
    "storm-inlet": ((10, MANHOLE_N), "manhole", 10),
}


def test_categories_load_is_idempotent_and_routes_each_to_an_organisation(categories):
    assert categories_load() == 0
    assert all(c.organisation_id for c in categories.values())
    assert categories["pipe-burst"].layer == "networks"
    assert categories["street-light-out"].layer == "street_lights"
    assert categories["park-maintenance"].layer == ""


def test_register_numbers_routes_times_and_records_the_history(register, categories):
    before = timezone.now()
    appeal = register("pipe-burst")
    assert appeal.number.startswith(f"A-{timezone.localdate().year}-")
    assert len(appeal.number.split("-")[-1]) >= 6
    assert appeal.status == S.NEW
    assert appeal.organisation == categories["pipe-burst"].organisation
    assert appeal.priority == 1
    assert appeal.sla_due - appeal.received_at == timedelta(hours=4)
    assert appeal.received_at >= before
    (row,) = appeal.history.all()
    assert (row.action, row.from_status, row.to_status, row.by.username) == (
        "registered",
        "",
        "new",
        "op",
    )
    assert register("pipe-burst").number != appeal.number


@pytest.mark.parametrize("code", sorted(NEAR))
def test_autolink_links_the_nearest_object_of_the_categorys_layer(register, city, code):
    where, name, metres = NEAR[code]
    appeal = register(code, where)
    assert (appeal.linked_layer, appeal.linked_id) == (
        Appeal.objects.get(pk=appeal.pk).category.layer,
        city[name].pk,
    )
    assert appeal.link_method == Appeal.LinkMethod.AUTO
    assert appeal.link_distance_m == pytest.approx(metres, abs=1.0)
    assert appeal.link_candidates[0] == {
        "layer": appeal.linked_layer,
        "id": city[name].pk,
        "distance_m": appeal.link_distance_m,
    }
    assert not appeal.needs_attention


@pytest.mark.parametrize("code", sorted(NEAR))
def test_autolink_without_a_candidate_in_range_links_nothing_and_flags(register, code):
    appeal = register(code, FAR)
    assert (appeal.linked_layer, appeal.linked_id, appeal.link_candidates) == ("", None, [])
    assert appeal.link_method == Appeal.LinkMethod.NONE
    assert appeal.needs_attention


def test_candidates_are_nearest_first_and_only_within_the_radius(register, city):
    from layers.models import Street
    from tests.orders.appeals.conftest import line

    second = Street.objects.create(
        source="t", source_id="s2", name="Side", kind="service", geom=line(20)
    )
    Street.objects.create(source="t", source_id="s3", name="Far", kind="service", geom=line(60))
    appeal = register("pothole", (0, 8))
    assert [c["id"] for c in appeal.link_candidates] == [city["street"].pk, second.pk]
    assert [c["distance_m"] for c in appeal.link_candidates] == pytest.approx([8, 12], abs=0.5)


def test_a_category_without_a_layer_is_located_but_neither_linked_nor_flagged(register):
    appeal = register("park-maintenance", (0, 10))
    assert appeal.geom is not None and appeal.linked_layer == ""
    assert not appeal.needs_attention


def test_an_address_only_appeal_is_geocoded_to_the_exact_house_and_linked(register, city):
    appeal = register("pothole", None, address="12 Main Street, Baltimore, MD, 21224")
    assert appeal.located_by == "geocoded"
    assert appeal.geom.distance(city["house"].geom.point_on_surface) < 0.0001
    assert (appeal.linked_layer, appeal.linked_id) == ("streets", city["street"].pk)


def test_an_address_not_found_is_never_guessed_unlocated_and_flagged(register):
    for address in ("14 Main Street", "12 Nowhere Road"):
        appeal = register("pothole", None, address=address)
        assert (appeal.geom, appeal.located_by, appeal.linked_layer) == (None, "", "")
        assert appeal.needs_attention


def test_register_needs_an_address_or_a_point(register):
    with pytest.raises(ApplicationError):
        register("pothole", None, address="  ")


def test_register_refuses_a_received_at_in_the_future(register):
    with pytest.raises(ApplicationError):
        register("pothole", received_at=timezone.now() + timedelta(days=1))


# --- the lifecycle ---------------------------------------------------------------------------

# How an operator brings a fresh appeal to each status.
PATHS = {
    S.NEW: [],
    S.ASSIGNED: [S.ASSIGNED],
    S.IN_WORK: [S.ASSIGNED, S.IN_WORK],
    S.DONE: [S.ASSIGNED, S.IN_WORK, S.DONE],
    S.ARCHIVED: [S.ASSIGNED, S.IN_WORK, S.DONE, S.ARCHIVED],
    S.REOPENED: [S.ASSIGNED, S.IN_WORK, S.DONE, S.REOPENED],
    S.REJECTED: [S.REJECTED],
    S.DUPLICATE: [S.DUPLICATE],
}
PAIRS = [(a, b) for a in S.values for b in S.values]


def _bring(appeal: Appeal, status: str, by, original: Appeal | None = None) -> Appeal:
    for step in PATHS[status]:
        appeal_transition(
            appeal_id=appeal.pk,
            to=step,
            by=by,
            duplicate_of_id=original.pk if original else None,
        )
    return Appeal.objects.get(pk=appeal.pk)


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_legal_and_illegal(register, people, current, to):
    original = register("pipe-burst")
    appeal = _bring(register("pipe-burst"), current, people["operator"], original)
    assert appeal.status == current
    if to in TRANSITIONS[current]:
        result = appeal_transition(
            appeal_id=appeal.pk, to=to, by=people["operator"], duplicate_of_id=original.pk
        )
        assert result.appeal.status == to
        last = appeal.history.order_by("-id").first()
        assert (last.from_status, last.to_status, last.by.username) == (current, to, "op")
    else:
        with pytest.raises(Conflict) as caught:
            appeal_transition(appeal_id=appeal.pk, to=to, by=people["operator"])
        assert caught.value.extra["allowed"] == list(TRANSITIONS[current])
        assert Appeal.objects.get(pk=appeal.pk).status == current


def test_the_responsible_service_takes_it_into_work_and_reports_it_done(register, people):
    appeal = _bring(register("pipe-burst"), S.ASSIGNED, people["operator"])
    water = people["water"]
    assert appeal_transition(appeal_id=appeal.pk, to=S.IN_WORK, by=water).appeal.status == S.IN_WORK
    done = appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=water)
    assert done.appeal.status == S.DONE and done.appeal.done_at and done.appeal.closed_at


def test_a_service_may_not_assign_reject_or_archive(register, people):
    appeal = register("pipe-burst")
    with pytest.raises(Forbidden) as caught:
        appeal_transition(appeal_id=appeal.pk, to=S.ASSIGNED, by=people["water"])
    assert caught.value.extra["allowed"] == []
    done = _bring(register("pipe-burst"), S.DONE, people["operator"])
    with pytest.raises(Forbidden):
        appeal_transition(appeal_id=done.pk, to=S.ARCHIVED, by=people["water"])


def test_another_service_planners_and_the_public_may_not_move_it(register, people):
    appeal = _bring(register("pipe-burst"), S.ASSIGNED, people["operator"])
    with pytest.raises(NotFound):
        appeal_transition(appeal_id=appeal.pk, to=S.IN_WORK, by=people["roads"])
    with pytest.raises(Forbidden):
        appeal_transition(appeal_id=appeal.pk, to=S.IN_WORK, by=people["planner"])
    with pytest.raises(Unauthorized):
        appeal_transition(appeal_id=appeal.pk, to=S.IN_WORK, by=None)
    assert Appeal.objects.get(pk=appeal.pk).status == S.ASSIGNED


def test_a_duplicate_points_at_the_original_even_through_a_chain(register, people):
    original = register("pipe-burst")
    second = register("pipe-burst")
    appeal_transition(
        appeal_id=second.pk, to=S.DUPLICATE, by=people["operator"], duplicate_of_id=original.pk
    )
    third = register("pipe-burst")
    result = appeal_transition(
        appeal_id=third.pk, to=S.DUPLICATE, by=people["operator"], duplicate_of_id=second.pk
    )
    assert result.appeal.duplicate_of == original
    with pytest.raises(ApplicationError):
        appeal_transition(
            appeal_id=register("pipe-burst").pk, to=S.DUPLICATE, by=people["operator"]
        )


def test_assigning_needs_an_organisation_and_an_operator_may_name_another(register, people):
    from layers.models import Organisation

    appeal = register("pipe-burst")
    Appeal.objects.filter(pk=appeal.pk).update(organisation=None)
    with pytest.raises(ApplicationError):
        appeal_transition(appeal_id=appeal.pk, to=S.ASSIGNED, by=people["operator"])
    roads = Organisation.objects.get(name__startswith="Roads")
    result = appeal_transition(
        appeal_id=appeal.pk, to=S.ASSIGNED, by=people["operator"], organisation_id=roads.pk
    )
    assert result.appeal.organisation == roads


# --- the resident's link ---------------------------------------------------------------------


def test_the_resident_confirms_once_and_the_appeal_is_archived(register, people):
    appeal = _bring(register("pipe-burst"), S.IN_WORK, people["operator"])
    token = appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=people["operator"]).confirm_token
    stored = Appeal.objects.get(pk=appeal.pk).confirm_token_hash
    assert token and stored and token not in stored  # only the hash is kept
    archived = appeal_confirm_by_resident(token=token, resolved=True, comment="thanks")
    assert archived.status == S.ARCHIVED and archived.confirm_token_hash == ""
    last = AppealHistory.objects.filter(appeal=appeal).order_by("-id").first()
    assert (last.by, last.by_label, last.to_status, last.comment) == (
        None,
        "resident",
        "archived",
        "thanks",
    )
    with pytest.raises(NotFound):
        appeal_confirm_by_resident(token=token, resolved=False)


def test_the_resident_rejects_the_fix_and_it_reopens_with_half_the_norm(register, people):
    appeal = _bring(register("pipe-burst"), S.IN_WORK, people["operator"])
    token = appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=people["water"]).confirm_token
    before = timezone.now()
    reopened = appeal_confirm_by_resident(token=token, resolved=False, comment="still leaking")
    after = timezone.now()
    assert reopened.status == S.REOPENED and reopened.reopen_count == 1
    assert before + timedelta(hours=2) <= reopened.sla_due <= after + timedelta(hours=2)
    assert reopened.closed_at is None
    with pytest.raises(NotFound):
        appeal_confirm_by_resident(token=token, resolved=True)
    # Back in work, done again: a new link, the old one still dead.
    appeal_transition(appeal_id=appeal.pk, to=S.IN_WORK, by=people["water"])
    second = appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=people["water"]).confirm_token
    assert second != token
    assert appeal_confirm_by_resident(token=second, resolved=True).status == S.ARCHIVED


def test_an_operators_move_out_of_done_kills_the_link(register, people):
    appeal = _bring(register("pipe-burst"), S.IN_WORK, people["operator"])
    token = appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=people["operator"]).confirm_token
    appeal_transition(appeal_id=appeal.pk, to=S.ARCHIVED, by=people["operator"])
    with pytest.raises(NotFound):
        appeal_confirm_by_resident(token=token, resolved=False)
    with pytest.raises(NotFound):
        appeal_confirm_by_resident(token="", resolved=True)


def test_done_e_mails_the_resident_their_link(register, people, django_capture_on_commit_callbacks):
    appeal = _bring(
        register("pipe-burst", resident_email="anna@example.org"), S.IN_WORK, people["operator"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        token = appeal_transition(appeal_id=appeal.pk, to=S.DONE, by=people["water"]).confirm_token
    (message,) = mail.outbox
    assert message.to == ["anna@example.org"]
    assert f"/api/appeals/confirm/{token}" in message.body


# --- relink ----------------------------------------------------------------------------------


def test_an_operator_relinks_unlinks_and_relinks_automatically(register, city, people):
    appeal = register("pothole", FAR)
    assert appeal.needs_attention
    op = people["operator"]
    linked = appeal_relink(appeal_id=appeal.pk, by=op, layer="yards", object_id=city["yard"].pk)
    assert (linked.linked_layer, linked.linked_id, linked.link_method) == (
        "yards",
        city["yard"].pk,
        "operator",
    )
    assert linked.link_distance_m > 1000 and not linked.needs_attention
    moved = appeal_relink(appeal_id=appeal.pk, by=op, point=at(0, 5))
    assert (moved.linked_layer, moved.linked_id) == ("streets", city["street"].pk)
    assert moved.located_by == "operator"
    unlinked = appeal_relink(appeal_id=appeal.pk, by=op, layer="")
    assert unlinked.linked_layer == "" and unlinked.linked_id is None
    actions = list(appeal.history.values_list("action", flat=True))
    assert actions == ["registered", "relinked", "relinked", "relinked"]


def test_linking_an_unlocated_appeal_places_it_on_the_object(register, city, people):
    appeal = register("pothole", None, address="99 Nowhere")
    linked = appeal_relink(
        appeal_id=appeal.pk, by=people["operator"], layer="streets", object_id=city["street"].pk
    )
    assert linked.located_by == "object" and linked.geom is not None
    assert linked.link_distance_m == pytest.approx(0, abs=0.5)


def test_relink_refuses_unknown_layers_objects_and_non_operators(register, people):
    appeal = register("pothole")
    with pytest.raises(ApplicationError):
        appeal_relink(appeal_id=appeal.pk, by=people["operator"], layer="castles", object_id=1)
    with pytest.raises(ApplicationError):
        appeal_relink(appeal_id=appeal.pk, by=people["operator"], layer="streets", object_id=10**9)
    with pytest.raises(Forbidden):
        appeal_relink(appeal_id=appeal.pk, by=people["water"], layer="")


def test_register_is_usable_without_a_user(categories, city):
    appeal = appeal_register(
        category=categories["pothole"], channel="open311", point=at(0, 5), by_label="open311"
    )
    assert appeal.history.get().by_label == "open311"
