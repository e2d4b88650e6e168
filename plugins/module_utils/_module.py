# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Module wrapper of the cloud-side modules: common options, lazy ARM client, one fail_json per typed exception."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import threading
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import ArmClient, SdkTransport
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._azure_auth import (
    AZURE_AUTH_ARGSPEC, build_credential, describe_principal, resolve_auth)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import AuthError, HrwError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._hybrid_worker import (
    AutomationService, MachineService)


def azure_argument_spec(**own):
    spec = copy.deepcopy(AZURE_AUTH_ARGSPEC)
    spec.update(own)
    return spec


class HrwModule(object):
    """Builds the AnsibleModule; ``run(fn)`` calls ``fn(self)`` and exits with its result or with one fail_json."""

    def __init__(self, argument_spec, supports_check_mode=True, pool_size=10, **kwargs):
        self.module = AnsibleModule(argument_spec=azure_argument_spec(**argument_spec),
                                    supports_check_mode=supports_check_mode, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.pool_size = pool_size
        self._warnings = []
        self._warn_lock = threading.Lock()
        self._arm = None
        self._config = None

    def warn(self, message):
        with self._warn_lock:
            self._warnings.append(message)

    def resolve(self):
        """Check the common options and decide how to authenticate (no ARM call)."""
        return self.config

    def _run_cli(self, argv):
        path = self.module.get_bin_path(argv[0])
        if path is None:
            return 1, "", "%s not found" % argv[0]
        return self.module.run_command([path] + argv[1:])

    @property
    def config(self):
        if self._config is None:
            self._config = resolve_auth(self.params, cli_runner=self._run_cli)
        return self._config

    @property
    def arm(self):
        if self._arm is None:
            config = self.config
            credential = build_credential(config)
            pool_size = max(self.pool_size, (self.params.get("concurrency") or 0) + 4)
            transport = AuthNamingTransport(SdkTransport(config, credential, pool_size=pool_size), config)
            # ARM unreachable counts as transient for as long as the task may wait anyway (wait_timeout, else 10 min).
            self._arm = ArmClient(transport, config.subscription_id, warn=self.warn,
                                  outage_timeout=self.params.get("wait_timeout") or 600)
        return self._arm

    def automation(self):
        return AutomationService(self.arm, self.config.subscription_id, self.params["resource_group"],
                                 self.params["automation_account"])

    def machines(self, timeout=600.0):
        return MachineService(self.arm, timeout=timeout)

    def _flush_warnings(self):
        for message in self._warnings:
            self.module.warn(message)
        self._warnings = []

    def _stats(self):
        return dict(self._arm.stats) if self._arm is not None else {"reads": 0, "writes": 0, "retries": 0, "throttled": 0}

    def run(self, fn):
        try:
            result = fn(self)
        except HrwError as exc:
            self._flush_warnings()
            extra = dict((k, v) for k, v in exc.extra.items() if v is not None)
            extra["arm_requests"] = self._stats()
            self.module.fail_json(msg=exc.msg, **extra)
        except Exception as exc:  # never a bare Python error: name what failed, keep the traceback for -vvv
            self._flush_warnings()
            self.module.fail_json(msg="Failed with an unexpected %s: %s (please report this)" % (type(exc).__name__, exc),
                                  exception=traceback.format_exc(), arm_requests=self._stats())
        self._flush_warnings()
        result.setdefault("changed", False)
        result["arm_requests"] = self._stats()
        if not self.module._diff:
            result.pop("diff", None)
        self.module.exit_json(**result)


class AuthNamingTransport(object):
    """Adds who was authenticating (and through which options) to token failures."""

    def __init__(self, inner, config):
        self.inner = inner
        self.config = config

    def send(self, *args, **kwargs):
        try:
            return self.inner.send(*args, **kwargs)
        except AuthError as exc:
            raise AuthError("Failed to authenticate as %s against %s: %s" % (
                describe_principal(self.config), self.config.cloud.login, exc.msg.replace("Failed to authenticate: ", "")))
