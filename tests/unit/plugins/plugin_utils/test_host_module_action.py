# Copyright: azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The on-host modules' action plugin asks the loader for '.py' on POSIX hosts and leaves Windows hosts alone."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.plugin_utils._host_module_action import HostModuleAction

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


class FakeConnection:
    """Just what HostModuleAction touches: the shell's Windows flag and the class-level implementation preferences."""

    module_implementation_preferences = ("",)
    has_native_async = False

    def __init__(self, windows):
        self._shell = types.SimpleNamespace(_IS_WINDOWS=windows, tmpdir=None)


def make_action(windows, seen):
    action = HostModuleAction.__new__(HostModuleAction)
    action._connection = FakeConnection(windows)
    action._task = types.SimpleNamespace(async_val=0)

    def execute_module(task_vars=None, wrap_async=False, module_name=None, module_args=None):
        seen.append(tuple(action._connection.module_implementation_preferences))
        return {"changed": False}

    action._execute_module = execute_module
    action._remove_tmp_path = lambda path: None
    return action


@pytest.fixture(autouse=True)
def no_base_run(monkeypatch):
    monkeypatch.setattr("ansible.plugins.action.ActionBase.run", lambda self, tmp=None, task_vars=None: {})


@pytest.mark.parametrize("windows, expected", [(False, (".py",)), (True, ("",))])
def test_preferences_while_the_module_runs(windows, expected):
    seen = []
    action = make_action(windows, seen)
    assert action.run(task_vars={}) == {"changed": False}
    assert seen == [expected]
    # The connection is left as it was.
    assert action._connection.module_implementation_preferences == ("",)
    assert "module_implementation_preferences" not in action._connection.__dict__


def test_preferences_restored_when_the_module_raises():
    action = make_action(False, [])

    def boom(task_vars=None, wrap_async=False, module_name=None, module_args=None):
        raise RuntimeError("connection lost")

    action._execute_module = boom
    with pytest.raises(RuntimeError):
        action.run(task_vars={})
    assert "module_implementation_preferences" not in action._connection.__dict__


LOADER_PROBE = """
import sys
from ansible.plugins.loader import init_plugin_loader, module_loader
init_plugin_loader([sys.argv[1]])
for mod_type in ("", ".py"):
    print(module_loader.find_plugin_with_context(sys.argv[2], mod_type).plugin_resolved_path)
"""


@pytest.mark.parametrize("name", ["hrw_host_probe", "hrw_host_packages"])
def test_loader_picks_the_ps1_without_the_action_plugin_and_the_py_with_it(name):
    """Why the action plugin exists: with preference '' the collection loader returns the .ps1 sibling."""
    assert os.path.isfile(os.path.join(COLLECTION_ROOT, "plugins", "modules", name + ".ps1"))
    collections_path = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
    out = subprocess.run([sys.executable, "-c", LOADER_PROBE, collections_path, "azure_automation.hybrid_worker." + name],
                         capture_output=True, text=True, check=True, env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path))
    any_extension, python_only = out.stdout.split()
    assert any_extension.endswith(name + ".ps1")
    assert python_only.endswith(name + ".py")
