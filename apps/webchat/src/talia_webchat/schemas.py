"""Request and response models of the Web chat endpoints (pydantic, validated at the edge)."""
