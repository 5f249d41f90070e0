"""Seeded, deterministic demo companies (healthy, tight, crisis; empty: set up only) as QBO create requests."""

from .generator import Scenario, derive_seed, generate_demo
from .model import DemoCompany, SeedOp

__all__ = ["DemoCompany", "Scenario", "SeedOp", "derive_seed", "generate_demo"]
