# Copyright: azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to azure_automation.hybrid_worker: action plugin base for the on-host modules.

The on-host work is done by internal modules with two implementations under one name: plugins/modules/<name>.py
(Linux) and plugins/modules/<name>.ps1 (Windows). Windows connections ask the module loader for '.ps1' first, as they
should. POSIX connections ask for '' (any extension), and for a collection the loader then takes the alphabetically
first file, which is '<name>.ps1'. ``execute_host_module`` makes POSIX connections ask for '.py' explicitly, so Linux
hosts run the Python implementation; Windows hosts are not touched.
"""

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

POSIX_PREFERENCES = (".py",)
COLLECTION = "azure_automation.hybrid_worker"
# What ansible-core reports about a module that crashed or could not run (traceback, interpreter output, exit code): kept
# when an on-host module fails, so the task result shows why.
FAILURE_DETAILS = ("exception", "module_stderr", "module_stdout", "rc")


def controller_spec(argument_spec):
    """``argument_spec`` with ``type='path'`` read as 'str': validated on the controller, a path must not be expanded there
    (``~`` and ``$VAR`` of the controller's user); the on-host module expands it on the host, as the module did before."""
    spec = {}
    for name, option in argument_spec.items():
        option = dict(option)
        if option.get('type') == 'path':
            option['type'] = 'str'
        if option.get('options'):
            option['options'] = controller_spec(option['options'])
        spec[name] = option
    return spec


def failure_details(module_result):
    """The diagnostic keys of a failed on-host module result."""
    return dict((k, module_result[k]) for k in FAILURE_DETAILS if k in module_result)


class HostModuleAction(ActionBase):
    """Run on-host modules, choosing the implementation that fits the connection's shell."""

    _supports_check_mode = True
    _supports_async = True

    def _is_windows(self):
        return bool(getattr(self._connection._shell, "_IS_WINDOWS", False))

    def execute_host_module(self, name, module_args=None, task_vars=None, wrap_async=False):
        """The result of module ``<collection>.<name>`` (``None``: the task's own module and arguments) on the host."""
        kwargs = {"task_vars": task_vars, "wrap_async": wrap_async}
        if name is not None:
            kwargs.update(module_name="%s.%s" % (COLLECTION, name), module_args=module_args)
        if self._is_windows():
            return self._execute_module(**kwargs)
        connection = self._connection
        previous = connection.__dict__.get("module_implementation_preferences")
        connection.module_implementation_preferences = POSIX_PREFERENCES
        try:
            return self._execute_module(**kwargs)
        finally:
            if previous is None:
                del connection.module_implementation_preferences
            else:
                connection.module_implementation_preferences = previous

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        module_result = self.execute_host_module(None, task_vars=task_vars, wrap_async=wrap_async)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return merge_hash(result, module_result)
