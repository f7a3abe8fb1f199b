"""Helpers shared by the tests: answers files, TLS files, real config checkers."""
