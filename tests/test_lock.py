"""The project's environment is the one requirements/lock.txt pins.

`make test` installs through the lock as pip constraints; this checks that what
runs the suite is what the lock says, so a lock that drifted from the environment
(a new dependency added without `make lock`) fails here rather than on a fresh
machine. Outside the project's own .venv (a user's environment) it is skipped.
"""

import importlib.metadata
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_lock_pins_exact_versions_of_the_cpu_torch_and_the_data():
    pins = _pins()
    assert pins["torch"].startswith("2.13.0")
    assert "+cpu" in pins["torch"]
    for line in (ROOT / "requirements" / "data.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert pins.get(name.lower().replace("_", "-")) == version, line


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
                    reason="only the project's own .venv is built from the lock")
def test_environment_matches_the_lock():
    installed = {dist.metadata["Name"].lower().replace("_", "-"): dist.version
                 for dist in importlib.metadata.distributions()}
    drift = {name: (version, installed.get(name)) for name, version in _pins().items()
             if installed.get(name) != version}
    assert not drift, f"lock -> installed differs: {drift}; run `make lock` after make test passes"
    unlocked = sorted(set(installed) - set(_pins()) - {"skpool"})
    assert not unlocked, f"installed but not in requirements/lock.txt: {unlocked}"
