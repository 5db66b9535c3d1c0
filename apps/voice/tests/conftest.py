"""Fixtures for apps/voice/tests."""
