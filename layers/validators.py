"""Geometry checks shared by model fields, importers and the API."""

from __future__ import annotations

from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError

# Anything outside this box is not lon/lat: the usual sign of a file read with the wrong SRID.
LONLAT_BOUNDS = (-180.0, -90.0, 180.0, 90.0)


def geometry_problem(geom: GEOSGeometry) -> str | None:
    """Why a geometry cannot be stored, or None when it can."""
    if geom.empty:
        return "empty geometry"
    xmin, ymin, xmax, ymax = geom.extent
    if (
        xmin < LONLAT_BOUNDS[0]
        or ymin < LONLAT_BOUNDS[1]
        or xmax > LONLAT_BOUNDS[2]
        or (ymax > LONLAT_BOUNDS[3])
    ):
        return (
            f"coordinates ({xmin:.1f}, {ymin:.1f}, {xmax:.1f}, {ymax:.1f}) are not lon/lat: "
            "wrong SRID? give the file's CRS with --srid"
        )
    if not geom.valid:
        return f"invalid geometry: {geom.valid_reason}"
    return None


def validate_geometry(geom: GEOSGeometry | None) -> None:
    """Model-field validator: a clear message instead of a database error."""
    if geom is None:
        return
    if geom.srid not in (None, 4326):
        # GeoDjango transforms other SRIDs on save; check the lon/lat box on the transformed copy.
        geom = geom.transform(4326, clone=True)
    problem = geometry_problem(geom)
    if problem:
        raise ValidationError(problem, code="invalid_geometry")
