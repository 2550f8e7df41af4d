"""Mock servers: the mock kit and one faithful mock per vendor."""
