"""Shared pieces of memlyze's benchmark scripts."""
