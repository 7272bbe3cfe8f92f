"""Shopper-facing advice: how a product fits, which size to take."""
