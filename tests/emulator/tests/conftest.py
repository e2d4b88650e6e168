import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # hrw_emulator, also when not pip-installed

from helpers import Emulator  # noqa: E402


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """One emulator for the session, in response-validation test mode, with fast LROs."""
    emu = Emulator("--lro-seconds", "0.3", state_dir=tmp_path_factory.mktemp("emu"))
    yield emu
    emu.stop()


@pytest.fixture
def emu(emulator):
    """The session emulator, reset to its start state; fails the test if any response broke the swagger."""
    emulator.admin("POST", "reset")
    emulator.admin("POST", "settings", {"pageSize": 100, "faultRate": 0, "lroSeconds": 0.3, "latencyMs": 0})
    yield emulator
    errors = emulator.admin("GET", "response-errors")
    assert errors == [], errors


@pytest.fixture
def automation(emu):
    from azure.mgmt.automation import AutomationClient
    return emu.client(AutomationClient)
