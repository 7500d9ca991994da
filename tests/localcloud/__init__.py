"""Tests of the local cloud."""
