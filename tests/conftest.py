import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# tests/ helpers (nbrun, suites) and the answers/ package at the repository root
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
