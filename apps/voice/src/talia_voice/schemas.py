"""Request and response models of the Voice endpoints (pydantic, validated at the edge)."""
