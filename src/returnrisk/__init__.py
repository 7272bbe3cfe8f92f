"""returnrisk: keep e-commerce returns from happening twice.

Calibrated return risk per reason with exact explanations, size advice, fix suggestions for
merchandisers and returns-operations figures, learnt from a shop's order and return history.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
