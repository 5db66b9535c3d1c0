"""Fixtures for packages/talia-testkit/tests."""
