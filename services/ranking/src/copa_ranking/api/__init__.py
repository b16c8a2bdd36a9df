"""Ranking's HTTP API: the desk (organizers, judges, protests) and the public results."""
