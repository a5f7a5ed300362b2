"""Measure pack: measures grounded in national statutes (region 000000)."""
