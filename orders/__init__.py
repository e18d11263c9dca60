"""Work on the city: residents' appeals and excavation permits with their claims.

Two Django apps (orders.appeals, orders.permits), so each keeps its own migrations.
"""
