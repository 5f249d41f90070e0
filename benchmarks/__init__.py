"""Oodaloo's benchmarks: each prints its figures and writes flat JSON ``{name: number}`` under ``var/bench/``."""
