from django.apps import AppConfig


class GisCoreConfig(AppConfig):
    """The project package as an app: users and roles.

    contrib.gis already owns the label ``gis``, hence ``gis_core``.
    """

    name = "gis"
    label = "gis_core"
    verbose_name = "Users and roles"
