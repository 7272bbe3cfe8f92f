"""The demo generator's default output is untouched by the streamed-parts option (issue 20).

``demo-data --parts`` added a day range to :func:`returnrisk.demo.orders.make_lines`; without it the
default shop must stay byte for byte what it was (digests taken before that change, at commit
bdf1d00, for seed 5 and 5,000 lines). Parquet files carry the writer's version, so only the CSV
tables and the manifest are compared.
"""

from __future__ import annotations

import hashlib

import pytest

from returnrisk.demo.generator import generate_demo_shop
from returnrisk.demo.parts import slices

DIGESTS = {
    "order_lines.csv": "bc72993547f03e5638873acda467588b830701f77d435bd2bb6f5eb9e6ca0a11",
    "products.csv": "ac1c2611b2331329086954a0b50b7c13e644a01fdcaf2c1a479ffba016f5faf6",
    "returns.csv": "d9d9978349e01c0dea51c9321ad2123fb68bad542302ab7d6ab54d9861b49510",
    "truth/manifest.json": "06247a010eae18255120a038c368aa8136dac1bf7ae0c3ea083dc070052a81e8",
    "truth/products.csv": "f12a5585156ac425dd847eeca2459da373ba0b65d719a97976a083a46284c358",
}


def test_default_demo_output_is_byte_identical(tmp_path):
    generate_demo_shop(tmp_path / "shop", seed=5, n_lines=5000)
    got = {name: hashlib.sha256((tmp_path / "shop" / name).read_bytes()).hexdigest() for name in DIGESTS}
    assert got == DIGESTS


@pytest.mark.parametrize("parts", [1, 3, 24])
def test_parts_cover_the_period_and_the_lines(parts):
    import numpy as np

    weights = np.linspace(1, 2, 730)
    cut = slices(weights, 100_000, parts)
    assert cut[0][0] == 0 and cut[-1][1] == 730 and len(cut) == parts
    assert all(a[1] == b[0] for a, b in zip(cut[:-1], cut[1:]))
    assert sum(n for _, _, n in cut) == 100_000
    # each part gets the lines its days are expected to have
    for a, b, n in cut:
        assert n == pytest.approx(100_000 * weights[a:b].sum() / weights.sum(), abs=1)
