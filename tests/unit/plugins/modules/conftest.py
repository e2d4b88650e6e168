# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() with arguments and in-memory services; capture what exit_json/fail_json received."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json

import pytest

from ansible.module_utils import basic

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _module

from hrw_fakes import FakeAutomation, FakeMachines


class Exited(Exception):
    def __init__(self, result, failed):
        super(Exited, self).__init__(result)
        self.result = result
        self.failed = failed


@contextlib.contextmanager
def module_args(args):
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        patch_module_args = None
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    saved = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


@pytest.fixture
def services(monkeypatch):
    automation, machines = FakeAutomation(), FakeMachines()
    resolved = []
    monkeypatch.setattr(_module.HrwModule, "resolve", lambda self: resolved.append(True))
    monkeypatch.setattr(_module.HrwModule, "automation", lambda self: automation)
    monkeypatch.setattr(_module.HrwModule, "machines", lambda self, timeout=600.0: machines)

    def exit_json(self, **kwargs):
        raise Exited(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise Exited(kwargs, True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    automation.resolved = resolved
    return automation, machines


@pytest.fixture
def run_module():
    def run(main, args):
        base = {"resource_group": "rg", "automation_account": "hrw-aa"}
        base.update(args)
        with module_args(base):
            with pytest.raises(Exited) as info:
                main()
        return info.value
    return run
