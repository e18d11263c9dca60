from collections.abc import Iterator
from importlib import import_module
from types import ModuleType

from django.apps import AppConfig, apps
from django.utils.module_loading import module_has_submodule


class GisCoreConfig(AppConfig):
    """The project package as an app: users and roles.

    contrib.gis already owns the label ``gis``, hence ``gis_core``.
    """

    name = "gis"
    label = "gis_core"
    verbose_name = "Users and roles"


def app_modules(name: str) -> Iterator[ModuleType]:
    """Each installed app's module ``name``, in ``INSTALLED_APPS`` order.

    How the base packages find what the apps built on them declare (``openapi`` links, ``demo``
    data) without naming them.
    """
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, name):
            yield import_module(f"{config.name}.{name}")
