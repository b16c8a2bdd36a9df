"""copa_notifications."""
