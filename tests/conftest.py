import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# tests/ helpers (nbrun, suites) and the answers/ package at the repository root
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]


def pytest_terminal_summary(terminalreporter):
    """The matrix of wrong answers against the tests they cost (tests/suites.py), when any ran."""
    suites = sys.modules.get("suites")
    for line in (suites.matrix_summary() if suites else []):
        terminalreporter.write_line(line)


CATALOGUE = ("test_wrong_answer_loses_points", "test_right_answer_keeps_full_marks")


def pytest_addoption(parser):
    parser.addoption("--answers-shard", metavar="K/N", default=None,
                     help="grade only the K-th of N shares of the answers catalogue (the other tests all run): "
                          "CI grades the whole catalogue on the default Python and splits it between the others")


def pytest_collection_modifyitems(config, items):
    """--answers-shard K/N: keep the catalogue's tests whose id falls in share K (by a checksum of the
    id, the same in every run), and every other test."""
    import zlib

    shard = config.getoption("--answers-shard")
    if not shard:
        return
    k, n = (int(part) for part in shard.split("/"))
    kept, dropped = [], []
    for item in items:
        if getattr(item, "originalname", item.name) in CATALOGUE and zlib.crc32(item.nodeid.encode()) % n != k:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
