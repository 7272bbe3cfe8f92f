"""A small fashion shop rendered as each platform's API pages (test fixtures and benchmarks).

:mod:`.model` makes the shop (catalogue, customers, orders, returns, refunds and the special
cases every importer must handle); :mod:`.shopify_pages`, :mod:`.woocommerce_pages` and
:mod:`.prestashop_pages` write it in the shapes of the platforms' published API reference
examples (see docs/importing.md for the pages each shape comes from).
"""
