"""TalIA shared core: what more than one channel app needs."""
