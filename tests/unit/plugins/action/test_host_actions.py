# Copyright: azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hrw_health and hrw_modules actions: the host observes and acts, the controller decides (both OSes)."""

from __future__ import annotations

import json
import os
import types

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.azure_automation.hybrid_worker.plugins.action import hrw_health as health_action
from ansible_collections.azure_automation.hybrid_worker.plugins.action import hrw_modules as modules_action
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_checks as hc

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "module_utils", "fixtures", "host_facts")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


class FakeConnection:
    module_implementation_preferences = ("",)
    has_native_async = False

    def __init__(self, windows):
        self._shell = types.SimpleNamespace(_IS_WINDOWS=windows, tmpdir=None)


def make_action(cls, args, host, windows=False, check_mode=False, diff=False):
    """``host(module_name, module_args, preferences) -> result`` stands in for the managed host."""
    action = cls.__new__(cls)
    action._connection = FakeConnection(windows)
    action._task = types.SimpleNamespace(args=dict(args), async_val=0, check_mode=check_mode, diff=diff)
    action.calls = []

    def execute_module(module_name=None, module_args=None, task_vars=None, wrap_async=False):
        preferences = tuple(action._connection.module_implementation_preferences)
        action.calls.append((module_name, module_args, preferences))
        return host(module_name, module_args, preferences)

    action._execute_module = execute_module
    action._remove_tmp_path = lambda path: None
    return action


@pytest.fixture(autouse=True)
def no_base_run(monkeypatch):
    monkeypatch.setattr("ansible.plugins.action.ActionBase.run", lambda self, tmp=None, task_vars=None: {})


# ---------------------------------------------------------------------------------------------------- hrw_health

@pytest.mark.parametrize("name, windows", [("linux_healthy.json", False), ("windows_faults.json", True), ("windows_interception.json", True)])
def test_health_evaluates_the_probe_facts_on_the_controller(name, windows):
    case = fixture(name)
    action = make_action(health_action.ActionModule, dict(case["options"], fail_on="never"), lambda *a: {"facts": case["facts"]},
                         windows=windows)
    result = action.run(task_vars={})
    assert [(c["id"], c["status"]) for c in result["checks"]] == [(e[0], e[1]) for e in case["expected"]]
    assert result["report"] == hc.report(result["checks"]) and result["summary"] == hc.summarize(result["checks"])
    assert "failed" not in result and result["changed"] is False
    (module_name, module_args, preferences), = action.calls
    assert module_name == "azure_automation.hybrid_worker.hrw_host_probe"
    assert preferences == (("",) if windows else (".py",))
    assert not set(module_args) & {"min_cpu_cores", "min_memory_mb", "min_disk_free_mb", "expected_issuers", "fail_on", "checks"}


@pytest.mark.parametrize("fail_on, failed", [("fail", True), ("warn", True), ("never", False)])
def test_health_fail_on_is_applied_on_the_controller(fail_on, failed):
    case = fixture("windows_faults.json")
    action = make_action(health_action.ActionModule, dict(case["options"], fail_on=fail_on), lambda *a: {"facts": case["facts"]}, True)
    result = action.run(task_vars={})
    assert bool(result.get("failed")) is failed
    if failed:
        assert result["msg"].startswith("%d health check(s) at or above %s: " % (len(hc.failing(result["checks"], fail_on)), fail_on))
    assert "fail_on" not in action.calls[0][1]


def test_health_thresholds_change_the_verdict_without_a_new_probe_option():
    case = fixture("linux_healthy.json")
    seen = []
    for minimum in (2, 3):
        action = make_action(health_action.ActionModule, {"checks": ["cpu_cores"], "min_cpu_cores": minimum},
                             lambda *a: {"facts": case["facts"]})
        result = action.run(task_vars={})
        seen.append((result["checks"][0]["status"], action.calls[0][1]))
    assert [pair[0] for pair in seen] == ["ok", "fail"]
    assert seen[0][1] == seen[1][1]  # the same probe request: the threshold stayed on the controller


def test_health_runs_the_real_linux_probe_through_the_action(monkeypatch, tmp_path):
    """The probe module's own code (in-process) behind the action, on this machine."""
    from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_probe as probe
    monkeypatch.setattr(probe, "WAAGENT_DIR", str(tmp_path))

    def host(module_name, args, preferences):
        return {"facts": probe.gather(args["groups"], args["network_steps"], args["endpoints"], args["use_settings_url"], args["timeout"],
                                      args.get("proxy"), args["disk_path"], run_command=lambda argv: (1, "", ""),
                                      get_bin_path=lambda n: None)}

    action = make_action(health_action.ActionModule, {"checks": ["cpu_cores", "memory", "disk_space", "extension_install"],
                                                      "min_cpu_cores": 1, "fail_on": "never"}, host)
    result = action.run(task_vars={})
    assert [c["id"] for c in result["checks"]] == ["cpu_cores", "memory", "disk_space", "extension_install"]
    assert result["checks"][0]["status"] == "ok" and result["checks"][3]["status"] == "fail"


def test_health_proxy_password_never_in_the_result():
    case = fixture("linux_healthy.json")
    facts = json.loads(json.dumps(case["facts"]))
    facts["endpoints"][0]["tcp"] = {"elapsed_ms": None, "error": "the proxy answered \"HTTP/1.1 407\" to CONNECT"}
    action = make_action(health_action.ActionModule, {"automation_account_url": case["options"]["automation_account_url"],
                                                      "checks": ["tcp_connect"], "proxy_url": "http://bob:s3cr3t-pw@proxy:3128"},
                         lambda *a: {"facts": facts})
    result = action.run(task_vars={})
    assert result["failed"] is True and "through proxy http://***@proxy:3128" in result["msg"]
    assert "s3cr3t-pw" not in json.dumps(result)
    assert action.calls[0][1]["proxy"]["authorization"]  # goes to the host, where hrw_host_probe marks it no_log


def test_health_bad_option_fails_before_the_host_is_touched():
    action = make_action(health_action.ActionModule, {"checks": ["cpu_core"]}, lambda *a: pytest.fail("host touched"))
    with pytest.raises(AnsibleActionFail, match="cpu_core"):
        action.run(task_vars={})
    action = make_action(health_action.ActionModule, {"proxy_url": "socks5://bob:s3cr3t-pw@proxy:1080"}, lambda *a: pytest.fail("host"))
    with pytest.raises(AnsibleActionFail) as exc:
        action.run(task_vars={})
    assert "proxy_url must look like" in str(exc.value) and "s3cr3t-pw" not in str(exc.value)


def test_health_probe_failure_and_foreign_facts_are_reported():
    action = make_action(health_action.ActionModule, {}, lambda *a: {"failed": True, "msg": "boom"})
    result = action.run(task_vars={})
    assert result["failed"] is True and result["msg"] == "Failed to run the health checks: boom" and "checks" not in result
    bad = make_action(health_action.ActionModule, {}, lambda *a: {"facts": {"schema_version": 7, "os_family": "linux"}})
    with pytest.raises(AnsibleActionFail, match="facts schema 1"):
        bad.run(task_vars={})


# ---------------------------------------------------------------------------------------------------- hrw_modules

class FakeHost:
    """hrw_host_packages as the action sees it: an inventory, then the steps it was told."""

    def __init__(self, windows=False, python=None, modules=None, managed=False, environment=None):
        self.windows = windows
        self.python = dict(python or {})
        self.modules = dict((k, list(v)) for k, v in (modules or {}).items())
        self.managed = managed
        self.environment = dict(environment or {})
        self.applied = []

    def inventory(self, args):
        return {"python": {"executable": "C:\\Python312\\python.exe" if self.windows else "/usr/bin/python3",
                           "installed": dict(self.python), "error": None, "detail": None, "externally_managed": self.managed}
                if args["python"] else None,
                "powershell": {"available": True, "installed": dict((k.lower(), v) for k, v in self.modules.items())}
                if args["powershell_modules"] else None,
                "environment": dict((k, self.environment.get(k)) for k in args.get("runtime_paths") or []),
                "executable": dict((p, True) for p in args.get("test_paths") or [])}

    def __call__(self, module_name, args, preferences):
        assert module_name == "azure_automation.hybrid_worker.hrw_host_packages"
        assert preferences == (("",) if self.windows else (".py",))
        if args["mode"] == "apply":
            self.applied.append(args)
            for step in args["steps"]:
                if step["kind"] == "module_install":
                    self.modules.setdefault(step["name"], []).append(step["version"])
                elif step["kind"] == "pip_install":
                    for spec in step["specs"]:
                        name, _sep, version = spec.partition("==")
                        self.python[name] = version
                elif step["kind"] == "environment":
                    self.environment.update(step["values"])
        return {"changed": args["mode"] == "apply", "inventory": self.inventory(args)}


@pytest.mark.parametrize("windows", [False, True])
def test_modules_prerelease_rules_are_the_same_for_both_oses(windows):
    host = FakeHost(windows=windows, python={"HRW-Demo": "1.0.0rc1"}, modules={"Az.Accounts": ["2.0.0-preview"]})
    args = {"python_packages": [{"name": "hrw_demo", "version": "1.0.0"}],
            "powershell_modules": [{"name": "Az.Accounts", "version": "2.0.0"}], "break_system_packages": True}
    action = make_action(modules_action.ActionModule, args, host, windows=windows, diff=True)
    result = action.run(task_vars={})
    assert [(a["name"], a["action"]) for a in result["actions"]] == [("hrw_demo", "upgrade"), ("Az.Accounts", "upgrade")]
    steps = host.applied[0]["steps"]
    assert steps == [{"kind": "pip_install", "specs": ["hrw_demo==1.0.0"], "files": []},
                     {"kind": "module_install", "name": "Az.Accounts", "version": "2.0.0", "prerelease": False}]
    assert result["changed"] is True and result["powershell_modules"] == {"Az.Accounts": ["2.0.0-preview", "2.0.0"]}
    assert result["diff"]["before"]["python_packages"] == {"hrw_demo": "1.0.0rc1"}


def test_modules_check_mode_plans_without_applying():
    host = FakeHost(python={"requests": "2.31.0"}, environment={"python_3_10_path": "/usr/bin/python3"})
    args = {"python_packages": [{"name": "requests", "version": "2.32.3"}],
            "runtime_paths": {"powershell_7_2_path": "/opt/pwsh", "python_3_10_path": "/usr/bin/python3"}}
    action = make_action(modules_action.ActionModule, args, host, check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert host.applied == [] and [c[1]["mode"] for c in action.calls] == ["inventory"]
    assert result["changed"] is True and result["restart_required"] is True
    assert [(a["name"], a["action"]) for a in result["actions"]] == [
        ("requests", "upgrade"), ("powershell_7_2_path", "set"), ("python_3_10_path", "noop")]
    assert result["diff"]["after"]["environment"] == {"powershell_7_2_path": "/opt/pwsh", "python_3_10_path": "/usr/bin/python3"}


def test_modules_idempotent_second_run_applies_nothing():
    host = FakeHost(windows=True, modules={"Pester": ["5.6.1"]})
    action = make_action(modules_action.ActionModule, {"powershell_modules": [{"name": "Pester"}]}, host, windows=True)
    result = action.run(task_vars={})
    assert result["changed"] is False and host.applied == [] and len(action.calls) == 1


def test_modules_pep668_is_decided_on_the_controller():
    host = FakeHost(python={}, managed=True)
    action = make_action(modules_action.ActionModule, {"python_packages": [{"name": "six"}]}, host)
    result = action.run(task_vars={})
    assert result["failed"] is True and "externally managed (PEP 668)" in result["msg"] and host.applied == []
    assert result["actions"] == [{"type": "python", "name": "six", "action": "install", "before": None, "after": "latest"}]


def test_modules_exclusive_options_fail_before_the_host_is_touched():
    action = make_action(modules_action.ActionModule, {"pip_index_url": "https://mirror.example/simple", "pip_find_links": "/w"},
                         lambda *a: pytest.fail("host touched"))
    with pytest.raises(AnsibleActionFail, match="mutually exclusive"):
        action.run(task_vars={})


def test_health_probe_crash_keeps_the_host_output_without_secrets():
    """A probe that crashed (traceback, interpreter missing) shows why, as a plain module would, and still masks the proxy secrets."""
    proxy_url = "http://bob:s3cr3t-pw@proxy:3128"
    authorization = hc.probe_request({"proxy_url": proxy_url})["proxy"]["authorization"]
    crash = {"failed": True, "msg": "MODULE FAILURE", "rc": 1, "module_stdout": "",
             "module_stderr": "Traceback (most recent call last):\nKeyError: 'groups' s3cr3t-pw %s" % authorization}
    action = make_action(health_action.ActionModule, {"proxy_url": proxy_url}, lambda *a: dict(crash))
    result = action.run(task_vars={})
    assert result["failed"] is True and result["msg"] == "Failed to run the health checks: MODULE FAILURE" and result["rc"] == 1
    assert result["module_stderr"].startswith("Traceback (most recent call last):\nKeyError: 'groups'")
    assert "s3cr3t-pw" not in json.dumps(result) and authorization not in json.dumps(result)


@pytest.mark.parametrize("crash_on", ["inventory", "apply"])
def test_modules_host_crash_keeps_the_host_output(crash_on):
    host = FakeHost(python={"requests": "2.31.0"})

    def crashing(module_name, args, preferences):
        if args["mode"] == crash_on:
            return {"failed": True, "msg": "MODULE FAILURE", "rc": 1, "module_stdout": "", "module_stderr": "Traceback: boom"}
        return host(module_name, args, preferences)

    action = make_action(modules_action.ActionModule, {"python_packages": [{"name": "requests", "version": "2.32.3"}]}, crashing)
    result = action.run(task_vars={})
    assert result["failed"] is True and result["msg"] == "MODULE FAILURE"
    assert result["module_stderr"] == "Traceback: boom" and result["rc"] == 1


def test_paths_are_expanded_on_the_host_not_on_the_controller(monkeypatch):
    """type=path options keep ~ and $VAR for the host to expand (the controller's HOME is not the host's)."""
    monkeypatch.setenv("HOME", "/controller-home")
    case = fixture("linux_healthy.json")
    action = make_action(health_action.ActionModule, {"checks": ["disk_space"], "disk_path": "~/data", "fail_on": "never"},
                         lambda *a: {"facts": case["facts"]})
    action.run(task_vars={})
    assert action.calls[0][1]["disk_path"] == "~/data"
    host = FakeHost(python={})
    args = {"python_packages": [{"name": "hrw_demo", "src": "~/wheels/hrw_demo-1.2.0-py3-none-any.whl"}, {"name": "six"}],
            "pip_find_links": "$HOME/wheels"}
    action = make_action(modules_action.ActionModule, args, host)
    result = action.run(task_vars={})
    assert result["invocation"]["module_args"]["pip_find_links"] == "$HOME/wheels"
    request = host.applied[0]
    assert request["pip_find_links"] == "$HOME/wheels"  # hrw_host_packages' pip_find_links is type=path: the host expands it
    assert request["steps"] == [{"kind": "pip_install", "specs": ["~/wheels/hrw_demo-1.2.0-py3-none-any.whl", "six"],
                                 "files": ["~/wheels/hrw_demo-1.2.0-py3-none-any.whl"]}]
    assert "/controller-home" not in json.dumps(action.calls)
