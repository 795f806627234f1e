"""Tests of the semantic dimensions (scorers, backbones, end to end) and language parity."""
