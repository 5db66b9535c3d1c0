"""Request and response models of the WhatsApp endpoints (pydantic, validated at the edge)."""
