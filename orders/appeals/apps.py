from django.apps import AppConfig


class AppealsConfig(AppConfig):
    name = "orders.appeals"
    label = "appeals"
    verbose_name = "Appeals"

    def ready(self) -> None:
        from gis.middleware import error_writer_register
        from layers.selectors import CARD_HOOKS
        from orders.appeals.open311 import error_answer
        from orders.appeals.selectors import card_linked_appeals

        # Open311 clients read the GeoReport error list, in the path's format, even for a
        # request the middleware refuses before any view.
        error_writer_register("/open311/", error_answer)

        # An object's card lists the appeals linked to it (by layer and id, not by distance).
        if card_linked_appeals not in CARD_HOOKS:
            CARD_HOOKS.append(card_linked_appeals)
