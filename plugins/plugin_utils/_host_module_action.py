# Copyright: azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to azure_automation.hybrid_worker: action plugin base for the on-host modules (hrw_health, hrw_modules).

Each on-host module has two implementations with one name: plugins/modules/<name>.py (Linux, and the docs) and
plugins/modules/<name>.ps1 (Windows). Windows connections ask the module loader for '.ps1' first, as they should. POSIX
connections ask for '' (any extension), and for a collection the loader then takes the alphabetically first file, which
is '<name>.ps1'. This base makes POSIX connections ask for '.py' explicitly, so Linux hosts run the Python
implementation; Windows hosts are not touched.
"""

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

POSIX_PREFERENCES = (".py",)


class HostModuleAction(ActionBase):
    """Run the module of the same name, choosing the implementation that fits the connection's shell."""

    _supports_check_mode = True
    _supports_async = True

    def _is_windows(self):
        return bool(getattr(self._connection._shell, "_IS_WINDOWS", False))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not self._connection.has_native_async
        connection = self._connection
        if self._is_windows():
            module_result = self._execute_module(task_vars=task_vars, wrap_async=wrap_async)
        else:
            previous = connection.__dict__.get("module_implementation_preferences")
            connection.module_implementation_preferences = POSIX_PREFERENCES
            try:
                module_result = self._execute_module(task_vars=task_vars, wrap_async=wrap_async)
            finally:
                if previous is None:
                    del connection.module_implementation_preferences
                else:
                    connection.module_implementation_preferences = previous
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return merge_hash(result, module_result)
