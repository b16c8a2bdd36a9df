"""copa_runtime."""
