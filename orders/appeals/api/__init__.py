"""The appeals API under /api/: thin views over orders.appeals.services and selectors.

Who may do what: operators everything; planners read; a service's staff (the contractor role,
bound to the service's organisation) read and move their organisation's appeals; the public
nothing here (the map layer and Open311 show appeals without personal data). Intake feeds send
an integration key in ``X-Api-Key``; residents answer through their one-time link.

One module a resource: ``appeals`` (with the categories and the resident's link), ``intake``,
``callbacks``, ``reports``; ``base`` holds what they share.
"""
