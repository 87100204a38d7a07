"""Thin routers: parse, authorize through a typed dependency, call one service, shape the answer."""
