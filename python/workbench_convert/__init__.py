"""Checkpoint layout conversions the paper recipes need between the upstream programs."""
