"""The layer registry: who sees which layer, and which of its properties."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.contrib.auth.models import AnonymousUser

from gis.apps import app_modules
from gis.exceptions import Forbidden, NotFound, Unauthorized
from gis.models import User
from gis.roles import PUBLIC, Role, viewer_for
from layers import models as m
from layers.registry import LAYERS, LayerSpec, get_layer, layers_for, layers_register
from tests.factories import viewer

RESTRICTED = ("networks", "manholes", "cameras")
# Layers staff alone see besides the underground ones (incidents), and permits (staff and the
# contractors, each its own): neither is for the public.
STAFF_ONLY = ("incidents", "network_repairs", "repeated_problems", "works")
CONTRACTOR_SCOPED = ("permits",)
PUBLIC_LAYERS = tuple(
    name for name in LAYERS if name not in RESTRICTED + STAFF_ONLY + CONTRACTOR_SCOPED
)


def spec(name: str = "test", **kwargs: object) -> LayerSpec:
    kwargs.setdefault("properties", ("name",))
    return LayerSpec(
        name=name,
        title=name.title(),
        model=m.Building,
        geometry_type="Geometry",
        label=LAYERS["buildings"].label,
        **kwargs,
    )


def test_anonymous_user_is_the_public() -> None:
    assert viewer_for(AnonymousUser()) == PUBLIC


def test_public_viewer_never_lists_networks_manholes_or_cameras() -> None:
    names = [s.name for s in layers_for(PUBLIC)]
    assert not set(RESTRICTED) & set(names)
    assert names == list(PUBLIC_LAYERS)


@pytest.mark.parametrize("name", RESTRICTED)
def test_anonymous_get_restricted_layer_is_unauthorized(name: str) -> None:
    with pytest.raises(Unauthorized) as raised:
        get_layer(name, viewer_for(AnonymousUser()))
    assert raised.value.status == 401


def test_contractor_never_lists_networks_manholes_or_cameras() -> None:
    names = {s.name for s in layers_for(viewer(Role.CONTRACTOR))}
    assert names == set(PUBLIC_LAYERS) | set(CONTRACTOR_SCOPED)


def test_contractors_see_permits_only_of_their_own_organisation() -> None:
    permits = LAYERS["permits"]
    contractor = viewer(Role.CONTRACTOR)
    assert permits.is_scoped_for(contractor)
    assert not permits.is_scoped_for(viewer(Role.OPERATOR))
    assert not permits.visible_to(PUBLIC)


@pytest.mark.parametrize("name", RESTRICTED)
def test_contractor_get_restricted_layer_is_forbidden(name: str) -> None:
    contractor = viewer_for(User(username="c", role=Role.CONTRACTOR, organisation_id=1))
    with pytest.raises(Forbidden) as raised:
        get_layer(name, contractor)
    assert raised.value.status == 403
    assert "contractor" in raised.value.message


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.PLANNER])
def test_staff_see_every_layer(role: Role) -> None:
    staff = viewer(role)
    assert layers_for(staff) == list(LAYERS.values())
    assert all(get_layer(name, staff) is LAYERS[name] for name in LAYERS)


def test_superuser_without_a_role_acts_as_operator() -> None:
    admin = viewer_for(User(username="root", is_superuser=True))
    assert get_layer("networks", admin) is LAYERS["networks"]


def test_inactive_staff_account_is_the_public() -> None:
    retired = User(username="old", role=Role.OPERATOR, is_active=False)
    with pytest.raises(Unauthorized):
        get_layer("cameras", viewer_for(retired))


@pytest.mark.parametrize("name", PUBLIC_LAYERS)
def test_public_layer_is_open_to_everyone(name: str) -> None:
    for role in Role:
        assert get_layer(name, viewer(role)) is LAYERS[name]


@pytest.mark.parametrize("name", ["nope", "", "buildings; DROP TABLE layers_building", "Buildings"])
def test_unknown_layer_is_not_found(name: str) -> None:
    with pytest.raises(NotFound) as raised:
        get_layer(name, viewer(Role.OPERATOR))
    assert raised.value.status == 404
    assert raised.value.extra["layers"] == sorted(LAYERS)


@pytest.mark.parametrize("role", list(Role))
def test_properties_always_include_source(role: Role) -> None:
    for layer in layers_for(viewer(role)):
        props = layer.properties_for(viewer(role))
        # Every layer whose rows may be imported or derived says where each row comes from.
        if hasattr(layer.model, "source"):
            assert props[0] == "source"
        assert set(layer.properties) <= set(props)


def test_staff_properties_are_for_staff_only() -> None:
    layer = spec(staff_properties=("flats",))
    assert "flats" not in layer.properties_for(viewer(Role.PUBLIC))
    assert "flats" not in layer.properties_for(viewer(Role.CONTRACTOR))
    assert "flats" in layer.properties_for(viewer(Role.OPERATOR))
    assert "flats" in layer.properties_for(viewer(Role.PLANNER))


def test_every_registered_property_is_a_model_field() -> None:
    for layer in LAYERS.values():
        fields = {f.name for f in layer.model._meta.get_fields()}
        assert set(layer.properties + layer.staff_properties) <= fields, layer.name


def test_registry_rejects_unknown_property() -> None:
    with pytest.raises(ValueError, match=r"unknown properties \['secret'\]"):
        layers_register([spec(properties=("name", "secret"))], into={})


def test_registry_rejects_unknown_staff_property() -> None:
    with pytest.raises(ValueError, match="unknown properties"):
        layers_register([spec(staff_properties=("password",))], into={})


def test_registry_rejects_duplicate_name() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        layers_register([spec("twice"), spec("twice")], into={})


def test_registry_keeps_order() -> None:
    assert list(layers_register([spec("b"), spec("a")], into={})) == ["b", "a"]


def test_registry_registers_a_batch_whole_or_not_at_all() -> None:
    registry = layers_register([spec("first")], into={})
    with pytest.raises(ValueError, match="unknown properties"):
        layers_register([spec("second"), spec("third", properties=("secret",))], into=registry)
    assert list(registry) == ["first"]


def test_registry_refuses_a_name_an_earlier_app_took() -> None:
    registry = layers_register([spec("yards")], into={})
    with pytest.raises(ValueError, match="'yards' registered twice"):
        layers_register([spec("yards")], into=registry)


def test_a_computed_layer_registers_after_the_layers_that_feed_it() -> None:
    with pytest.raises(ValueError, match=r"fed by unknown layers \['later'\]"):
        layers_register([spec("view", fed_by=("later",)), spec("later")], into={})
    assert list(layers_register([spec("source"), spec("view", fed_by=("source",))], into={})) == [
        "source",
        "view",
    ]


def test_each_app_registers_the_layers_of_its_own_models() -> None:
    # The registry is each installed app's layer_specs, in INSTALLED_APPS order, and a layer is
    # declared by the app its model belongs to: layers/ names no app built on it.
    declared = [spec for module in app_modules("layer_specs") for spec in module.SPECS]
    assert list(LAYERS.values()) == declared
    for layer in declared:
        app = layer.model._meta.app_config.name
        assert layer in import_module(f"{app}.layer_specs").SPECS, layer.name
    assert {s.model._meta.app_config.name for s in declared} == {
        "layers",
        "orders.appeals",
        "orders.permits",
        "orders.planning",
        "orders.operations",
    }
