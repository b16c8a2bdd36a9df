"""copa_teams."""
