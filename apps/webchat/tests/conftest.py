"""Fixtures for apps/webchat/tests."""
