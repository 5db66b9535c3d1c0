"""Fixtures for packages/talia-core/tests."""
