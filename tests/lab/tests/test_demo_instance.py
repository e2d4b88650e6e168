"""scripts/demo.sh honours HRW_LAB_INSTANCE: state, emulator and inventory of that instance, hosts in the right groups.

Runs demo.sh in a scratch copy of the repository whose set-up, lab and ansible-playbook are stand-ins that record how
they were called (no podman, no emulator), then resolves the demo inventory for an instance's host names.
"""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RECORD = 'printf "%s %s\\n" "$(basename "$0")" "$*" >> "$RECORD"\n'


def _stub(path, body=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + RECORD + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def scratch(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts" / "demo").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "demo.sh", repo / "scripts" / "demo.sh")
    shutil.copy2(ROOT / "scripts" / "demo" / "inventory.yml", repo / "scripts" / "demo" / "inventory.yml")
    _stub(repo / "scripts" / "setup.sh")
    _stub(repo / "tests" / "lab" / "emulator.sh")
    _stub(repo / "tests" / "lab" / "lab.sh")
    _stub(repo / ".venv" / "bin" / "ansible-playbook")
    tools = repo / "tests" / "tools"
    tools.mkdir(parents=True)
    (tools / "emulator_env.py").write_text(
        "import os, sys\nopen(os.environ['RECORD'], 'a').write('emulator_env.py ' + ' '.join(sys.argv[1:]) + '\\n')\n"
        "print('export HRW_ARM_ENDPOINT=https://127.0.0.1:1')\n")
    return repo


def _run(repo, *args, instance=None):
    record = repo / "calls.log"
    record.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "HRW_LAB_INSTANCE"}
    env["RECORD"] = str(record)
    if instance is not None:
        env["HRW_LAB_INSTANCE"] = instance
    result = subprocess.run(["bash", str(repo / "scripts" / "demo.sh"), *args], env=env, capture_output=True, text=True,
                            timeout=60)
    calls = record.read_text().splitlines() if record.exists() else []
    return result, calls


def test_demo_uses_the_instance_state_and_inventory(scratch):
    result, calls = _run(scratch, instance="fresh")
    assert result.returncode == 0, result.stderr
    state = scratch / ".lab" / "instances" / "fresh"
    assert f"emulator_env.py {state}/emulator.json {state}/ca-bundle.pem" in calls
    assert "lab.sh up 3 --emulator-json .lab/instances/fresh/emulator.json" in calls
    playbook = next(c for c in calls if c.startswith("ansible-playbook "))
    assert "-i .lab/instances/fresh/inventory.yml -i scripts/demo/inventory.yml" in playbook
    assert ".lab/emulator.json" not in "\n".join(calls) and "-i .lab/inventory.yml" not in playbook


def test_demo_without_instance_keeps_the_default_lab(scratch):
    result, calls = _run(scratch)
    assert result.returncode == 0, result.stderr
    assert f"emulator_env.py {scratch}/.lab/emulator.json {scratch}/.lab/ca-bundle.pem" in calls
    assert "lab.sh up 3 --emulator-json .lab/emulator.json" in calls
    assert any(c.startswith("ansible-playbook -i .lab/inventory.yml -i scripts/demo/inventory.yml") for c in calls)


def test_demo_down_and_bad_instance_name(scratch):
    result, calls = _run(scratch, "down", instance="fresh")
    assert result.returncode == 0 and calls == ["lab.sh down", "emulator.sh stop"]
    result, calls = _run(scratch, instance="../etc")
    assert result.returncode == 2 and "HRW_LAB_INSTANCE" in result.stderr and calls == []


@pytest.mark.parametrize("instance", [None, "fresh"])
def test_demo_inventory_groups_hosts_of_any_instance(tmp_path, instance):
    """The demo inventory's hrw_group holds for hrw-lab-1..3 and hrw-lab-<instance>-1..3 alike."""
    playbook = shutil.which("ansible-playbook", path=str(ROOT / ".venv" / "bin")) or shutil.which("ansible-playbook")
    if playbook is None:
        pytest.skip("ansible-playbook is not installed (scripts/setup.sh installs it in .venv)")
    prefix = "hrw-lab-" + (f"{instance}-" if instance else "")
    lab = tmp_path / "inventory.yml"
    lab.write_text("all:\n  children:\n    hrw_linux:\n      hosts:\n"
                   + "".join(f"        {prefix}{i}:\n          ansible_connection: local\n" for i in (1, 2, 3)))
    play = tmp_path / "groups.yml"
    play.write_text("- hosts: hrw_linux\n  gather_facts: false\n  tasks:\n"
                    "    - ansible.builtin.debug:\n        msg: \"GROUP {{ inventory_hostname }} {{ hrw_group }}\"\n")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
    result = subprocess.run([playbook, "-i", str(lab), "-i", str(ROOT / "scripts" / "demo" / "inventory.yml"), str(play)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    found = dict(line.split('"GROUP ', 1)[1].rstrip('"').split() for line in result.stdout.splitlines() if '"GROUP ' in line)
    assert found == {f"{prefix}1": "linux-workers", f"{prefix}2": "linux-workers", f"{prefix}3": "linux-batch"}, json.dumps(found)
