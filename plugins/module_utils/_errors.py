# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Typed exceptions of the cloud-side layer.

Every failure a module can meet is one of these. The module wrapper turns the one that escapes into exactly one
``fail_json(msg=...)``; the message names the action, the resource and Azure's error code.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class HrwError(Exception):
    """Base class. ``msg`` is what the user reads; ``extra`` is added to the failed result."""

    def __init__(self, msg, **extra):
        super(HrwError, self).__init__(msg)
        self.msg = msg
        self.extra = extra

    def __str__(self):
        return self.msg


class OptionError(HrwError):
    """An option value is invalid. Raised before any call to Azure."""

    def __init__(self, option, problem):
        super(OptionError, self).__init__("Invalid value for option '%s': %s" % (option, problem), option=option)
        self.option = option


class MissingLibraryError(HrwError):
    """A Python package the module needs for this task is not installed."""

    def __init__(self, package, msg, exception=None):
        super(MissingLibraryError, self).__init__(msg, exception=exception)
        self.package = package


class AuthError(HrwError):
    """Credentials could not be resolved or were refused."""


class ArmError(HrwError):
    """ARM answered with an error, or could not be reached.

    ``status`` is the HTTP status (``None`` for a connection error), ``code`` Azure's error code.
    """

    def __init__(self, action, resource, status=None, code=None, message=None, request_id=None):
        self.action = action
        self.resource = resource
        self.status = status
        self.code = code or ("ConnectionError" if status is None else "HTTP%s" % status)
        self.message = message or ""
        text = "Failed to %s %s: %s" % (action, resource, self.code)
        if status is not None:
            text += " (HTTP %s)" % status
        if self.message:
            text += ": %s" % self.message
        super(ArmError, self).__init__(text, status=status, error_code=self.code, request_id=request_id)


class NotFoundError(ArmError):
    """404."""


class ConflictError(ArmError):
    """409."""


class ThrottledError(ArmError):
    """429 that outlasted the retry budget."""


class OperationTimeout(HrwError):
    """A long-running operation or a wait did not finish before its deadline."""


class OperationFailed(HrwError):
    """A long-running operation ended Failed or Canceled."""


class StateError(HrwError):
    """The resource is in a state the requested change refuses (System group, group with workers, ...)."""


def exception_for_status(status):
    """The ArmError subclass for an HTTP status."""
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return ThrottledError
    return ArmError
