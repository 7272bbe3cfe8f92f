"""Explained scoring: probabilities per reason with their exact TreeSHAP drivers and messages."""

from returnrisk.scoring.explained import ExplainedScorer, UnknownProduct, SizeNotOffered

__all__ = ["ExplainedScorer", "UnknownProduct", "SizeNotOffered"]
