"""External parts behind small interfaces, each with an embedded and a scaled implementation."""
