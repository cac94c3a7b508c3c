"""`python -m bench.s3_publish`: the 1,000,000-row publish to SeaweedFS (bench.publish_10m).

Kept as an alias so that `make bench` and the README's figure keep their name: the measurement
itself (whole processes, the floor, the patch check) lives in bench.publish_10m, which the old
in-process APIs this script used (Table, validate_tables, with_version(...).all_files()) no
longer serve. Extra arguments are passed on (a later --rows wins).
"""

from __future__ import annotations

import sys

from bench.publish_10m import main

if __name__ == "__main__":
    main(["--rows", "1000000", *sys.argv[1:]])
