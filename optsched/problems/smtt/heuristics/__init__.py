"""smtt heuristics: constructive rules, local searches and iterated dynasearch."""
