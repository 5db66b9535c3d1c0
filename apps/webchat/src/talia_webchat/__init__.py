"""TalIA Web chat channel: the browser widget."""
