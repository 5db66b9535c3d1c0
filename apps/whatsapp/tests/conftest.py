"""Fixtures for apps/whatsapp/tests."""
