# Copyright: azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for hrw_modules: the host lists and acts, the plan is made here on the controller.

1. Validate the task's options against hrw_modules' argument spec (the one in _host_packages).
2. Run hrw_host_packages mode=inventory on the host (Python on POSIX, PowerShell on Windows).
3. Plan with _host_packages.plan_all: version comparison, install/upgrade/downgrade/remove/noop, PEP 668, runtime paths.
4. Unless in check mode, run hrw_host_packages mode=apply with the planned steps; the diff comes from the plan.
"""

from ansible.plugins.action import ActionBase

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_packages as pk
from ansible_collections.azure_automation.hybrid_worker.plugins.plugin_utils._host_module_action import (
    HostModuleAction, controller_spec, failure_details)

HOST_MODULE = "hrw_host_packages"


class ActionModule(HostModuleAction):
    """See the module docstring."""

    _supports_async = False  # the inventory must come back to be planned on

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)
        del tmp
        _validation, params = self.validate_argument_spec(argument_spec=controller_spec(pk.ARGUMENT_SPEC),
                                                          mutually_exclusive=pk.MUTUALLY_EXCLUSIVE)
        result["invocation"] = {"module_args": params}
        plan = []
        try:
            listing = self.execute_host_module(HOST_MODULE, pk.inventory_request(params), task_vars)
            if listing.get("failed"):
                result.update(failure_details(listing))
                result.update(failed=True, msg=listing.get("msg"), actions=[])
                return result
            try:
                plan, request, warnings = pk.plan_all(params, listing["inventory"])
            except pk.PlanError as exc:
                result.update(failed=True, msg=str(exc), actions=pk.public_actions(exc.plan))
                return result
            if warnings:
                result["warnings"] = warnings
            after = None
            if request and not self._task.check_mode:
                applied = self.execute_host_module(HOST_MODULE, request, task_vars)
                if applied.get("failed"):
                    result.update(failure_details(applied))
                    result.update(failed=True, msg=applied.get("msg"), actions=pk.public_actions(plan))
                    return result
                after = applied["inventory"]
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(pk.module_result(params, plan, after, self._task.diff))
        return result
