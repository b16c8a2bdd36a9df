"""copa_ranking."""
