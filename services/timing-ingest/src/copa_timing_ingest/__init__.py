"""copa_timing_ingest."""
