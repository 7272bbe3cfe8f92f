"""Write the platform fixtures tests/fixtures/{shopify,woocommerce,prestashop} from the model shop.

    python tests/make_platform_fixtures.py

The pages are committed: this script documents how they were made and remakes them after a
change of the model (tests/platform_pages/).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from platform_pages.model import ShopModel  # noqa: E402
from platform_pages.prestashop_pages import write_prestashop  # noqa: E402
from platform_pages.shopify_pages import write_shopify  # noqa: E402
from platform_pages.woocommerce_pages import write_woocommerce  # noqa: E402

WRITERS = {"shopify": write_shopify, "woocommerce": write_woocommerce, "prestashop": write_prestashop}


def main() -> None:
    for platform, write in WRITERS.items():
        folder = HERE / "fixtures" / platform
        shutil.rmtree(folder, ignore_errors=True)
        write(ShopModel(seed=14), folder)
        print(f"{platform}: {sum(1 for _ in folder.rglob('*') if _.is_file())} files in {folder}")


if __name__ == "__main__":
    main()
