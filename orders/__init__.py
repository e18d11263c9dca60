"""Work on the city: residents' appeals and excavation permits with their claims.

Django apps (orders.appeals, orders.permits, orders.planning, orders.operations), so each
keeps its own migrations.
"""
