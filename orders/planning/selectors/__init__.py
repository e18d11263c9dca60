"""Reads for planning, one module a concern: the yard ranking, plans, where breaks recur.

``ranking`` scores and ranks the yards; ``plans`` composes a plan from the ranking and reads the
plans; ``breaks`` finds the break hotspots, counts breaks per month and projects their points.
The ranking and the hotspots are computed in PostGIS, each in one statement of CTEs composed with
``psycopg.sql``: tables come from the models' ``_meta`` (``sql.Identifier``), every value is a
bound parameter.
"""
