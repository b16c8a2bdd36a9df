"""copa_registration."""
