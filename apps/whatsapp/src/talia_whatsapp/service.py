"""WhatsApp channel logic: plain values in, typed collaborators, no FastAPI import."""
