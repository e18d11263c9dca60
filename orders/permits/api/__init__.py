"""The permits and claims API: thin views over orders.permits.services and selectors.

One module a resource: ``permits`` (with the actions on a permit), ``restoration`` (the act, its
files and the public query), ``claims``; ``base`` holds what they share.
"""
