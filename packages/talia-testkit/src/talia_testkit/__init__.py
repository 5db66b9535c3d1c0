"""TalIA test kit: embedded Postgres, local servers and wire-level fakes. Never shipped."""
