from django.apps import AppConfig


class AppealsConfig(AppConfig):
    name = "orders.appeals"
    label = "appeals"
    verbose_name = "Appeals"

    def ready(self) -> None:
        from layers.registry import layers_register
        from layers.selectors import CARD_HOOKS
        from orders.appeals.layer_specs import SPECS
        from orders.appeals.selectors import card_linked_appeals

        layers_register(SPECS)

        # An object's card lists the appeals linked to it (by layer and id, not by distance).
        if card_linked_appeals not in CARD_HOOKS:
            CARD_HOOKS.append(card_linked_appeals)
