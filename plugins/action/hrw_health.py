# Copyright: azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for hrw_health: the host probe observes, the rule engine decides here on the controller.

1. Validate the task's options against hrw_health's argument spec (the one in _host_checks).
2. Run the internal module hrw_host_probe on the host (Python on POSIX, PowerShell on Windows) with only what it needs
   to observe: the selected check ids, the endpoints, the timeout, the disk path and the proxy to tunnel through.
3. Evaluate the returned facts (schema: _host_facts) with _host_checks.evaluate, then apply fail_on.
"""

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.six.moves.urllib.parse import urlsplit
from ansible.plugins.action import ActionBase

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_checks as checks
from ansible_collections.azure_automation.hybrid_worker.plugins.plugin_utils._host_module_action import (
    HostModuleAction, controller_spec, failure_details)

PROBE = "hrw_host_probe"


class ActionModule(HostModuleAction):
    """See the module docstring."""

    _supports_async = False  # the facts must come back to be evaluated

    def run(self, tmp=None, task_vars=None):
        result = ActionBase.run(self, tmp, task_vars)
        del tmp
        _validation, options = self.validate_argument_spec(argument_spec=controller_spec(checks.ARGUMENT_SPEC))
        secrets = set()
        if options["proxy_url"]:
            try:
                password = urlsplit(options["proxy_url"]).password
            except ValueError:
                password = None
            if password:
                secrets.add(password)  # only the password is secret; host and port stay readable
        try:
            request = checks.probe_request(options)
        except ValueError as exc:
            raise AnsibleActionFail("Failed to run the health checks: %s" % exc)
        if (request.get("proxy") or {}).get("authorization"):
            secrets.add(request["proxy"]["authorization"])  # base64 user:password, in case the host echoes it back
        try:
            probe = self.execute_host_module(PROBE, request, task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result["invocation"] = {"module_args": options}
        if probe.get("failed") or not isinstance(probe.get("facts"), dict):
            result.update(failure_details(probe))
            result.update(failed=True, msg="Failed to run the health checks: %s" % probe.get("msg", "the host probe returned no facts"))
            return remove_values(result, secrets)
        try:
            results, endpoints, url = checks.evaluate(probe["facts"], options)
        except ValueError as exc:
            raise AnsibleActionFail("Failed to run the health checks: %s" % exc)
        output, failure = checks.outcome(results, endpoints, url, options["fail_on"])
        result.update(output)
        if failure:
            result.update(failed=True, msg=failure)
        return remove_values(result, secrets)
