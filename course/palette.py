"""The course's colours: "without BN" is always blue and "with BN" always orange, in every plot.

Kept apart from course.viz so that modules which only need the colours import no plotting library.
"""
COLORS = {"plain": "tab:blue", "bn": "tab:orange"}
LABELS = {"plain": "without BN", "bn": "with BN"}
