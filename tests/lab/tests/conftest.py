"""Fixtures of the lab tests: a separate lab instance ("pytest") with its own emulator and one host."""

import json
import os
import shutil
import time

import pytest

import labtools

TIMINGS = {}


def pytest_collection_modifyitems(config, items):
    if shutil.which("podman") is None:
        skip = pytest.mark.skip(reason="podman is not installed: the lab tests need rootful podman (tests/lab/README.md)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def timings():
    yield TIMINGS
    if TIMINGS:
        labtools.STATE_DIR.mkdir(parents=True, exist_ok=True)
        (labtools.STATE_DIR / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
        print("\nlab timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in TIMINGS.items()))


@pytest.fixture(scope="session")
def emulator(timings):
    _, seconds = labtools.run_script("emulator.sh", "start")
    timings["emulator_start"] = seconds
    info = json.loads((labtools.STATE_DIR / "emulator.json").read_text())
    emu = labtools.Emulator(info)
    emu.admin("POST", "reset")
    yield emu
    if not os.environ.get("HRW_LAB_KEEP"):
        labtools.run_script("emulator.sh", "stop")


@pytest.fixture(scope="session")
def lab_image(timings):
    _, seconds = labtools.run_script("lab.sh", "image", timeout=900)
    timings["image"] = seconds
    return seconds


@pytest.fixture(scope="session")
def lab_host(lab_image, emulator, timings):
    emulator_json = str(labtools.STATE_DIR / "emulator.json")
    labtools.run_script("lab.sh", "down")
    _, seconds = labtools.run_script("lab.sh", "up", "1", "--emulator-json", emulator_json)
    timings["up_1_host"] = seconds
    hosts = labtools.inventory_hosts()
    name = next(iter(hosts))
    yield labtools.LabHost(name, hosts[name])
    if not os.environ.get("HRW_LAB_KEEP"):
        labtools.run_script("lab.sh", "down")


@pytest.fixture
def clock():
    return time.monotonic
