"""Theorem checks."""
