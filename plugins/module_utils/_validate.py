# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Option checks of the cloud-side modules. Pure functions, run before any call to Azure, so bad input changes nothing.

Each check raises OptionError naming the option (``workers[3].os_type`` for an item of the fleet form) and the fix.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import check_visible_name, validate_group_name

# Bounds of the integer options, in seconds. A day is far beyond any extension install or heartbeat (workers poll every
# 30 s); a larger value is a typo (milliseconds?) that would keep a play hanging instead of failing.
MAX_WAIT = 86400
TIME_LIMITS = {
    "wait_timeout": (1, MAX_WAIT),
    "heartbeat_timeout": (1, MAX_WAIT),
    "heartbeat_max_age": (1, MAX_WAIT),
}

# Automation credential assets (resource-name rules of Microsoft.Automation, automationAccounts/credentials):
# 1-128 characters, none of <>*%&:\?.+/ and no control characters, not ending with a space.
CREDENTIAL_NAME_MAX = 128
_CREDENTIAL_FORBIDDEN = set('<>*%&:\\?.+/')

# typeHandlerVersion: major.minor, optionally followed by build and revision numbers (1.1, 1.1.11, 1.3.63.0).
_VERSION_RE = re.compile(r"^[0-9]{1,5}\.[0-9]{1,5}(\.[0-9]{1,9}){0,2}$")

_HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")  # underscores: some internal DNS names have them
_IPV4_RE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")
_IPV6_RE = re.compile(r"^\[[0-9A-Fa-f:.]{2,45}\]$")


def check_range(params, option, low, high=None):
    value = params.get(option)
    if value is None:
        return
    if value < low or (high is not None and value > high):
        bounds = "from %d to %d" % (low, high) if high is not None else "at least %d" % low
        raise OptionError(option, "must be %s seconds, got %s" % (bounds, value))


def check_time_limits(params, options):
    for option in options:
        low, high = TIME_LIMITS[option]
        check_range(params, option, low, high)


def validate_credential_name(value, option="credential_name"):
    """The name of an Automation credential asset, as Azure accepts it; None stays None (leave the credential as it is)."""
    if value is None:
        return None
    if not value.strip():
        raise OptionError(option, "must not be empty; omit it to leave the group's credential as it is")
    if len(value) > CREDENTIAL_NAME_MAX:
        raise OptionError(option, "is %d characters long; Azure allows at most %d for a credential asset name"
                          % (len(value), CREDENTIAL_NAME_MAX))
    bad = sorted(set(c for c in value if c in _CREDENTIAL_FORBIDDEN or ord(c) < 32 or ord(c) == 127))
    if bad:
        raise OptionError(option, "%r contains characters Azure refuses in a credential asset name: %s"
                          % (value, " ".join(repr(c) for c in bad)))
    if value != value.rstrip():
        raise OptionError(option, "%r must not end with a space" % (value,))
    check_visible_name(value, option, "credential asset")
    return value


def validate_type_handler_version(value, option="type_handler_version"):
    if value is None or not _VERSION_RE.match(value):
        raise OptionError(option, "%r is not an extension version; give major.minor (for example 1.1), optionally with "
                                  "build numbers (1.1.11)" % (value,))
    return value


def _check_host_port(hostport, option):
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; returns the port (None when absent)."""
    port = None
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = (hostport[:end + 1], hostport[end + 1:]) if end > 0 else (hostport, "")
        if rest:
            if not rest.startswith(":"):
                raise OptionError(option, "%r: expected [IPv6 address]:port" % (hostport,))
            port = rest[1:]
        if not _IPV6_RE.match(host):
            raise OptionError(option, "%r is not an IPv6 address in brackets" % (host,))
    else:
        host, sep, port_text = hostport.rpartition(":")
        if not sep:
            host, port_text = hostport, None
        port = port_text
        if _IPV4_RE.match(host):
            if any(int(part) > 255 for part in host.split(".")):
                raise OptionError(option, "%r is not an IPv4 address" % (host,))
        elif len(host) > 253 or not all(_HOST_LABEL_RE.match(label) for label in host.split(".")):
            raise OptionError(option, "%r is not a host name or IP address" % (host,))
    if port is not None:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise OptionError(option, "port %r is not a number from 1 to 65535" % (port,))
        return int(port)
    return None


def validate_proxy_server(value, option="proxy_server", hide=None):
    """``host:port`` or ``http[s]://host[:port]``, without credentials (they go in proxy_username and proxy_password).

    ``hide(text)`` is called with any password found in the value before failing, so the module can mask it in its
    result (the value itself is not a secret option and would otherwise be echoed back in ``invocation``).
    """
    if value is None or value == "":
        return value
    text = value.strip()
    if text != value or any(c.isspace() for c in text):
        raise OptionError(option, "%r contains spaces; give host:port or http://host:port" % (value,))
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = None, text
    elif scheme.lower() not in ("http", "https"):
        raise OptionError(option, "scheme %r is not supported by the HybridWorker extension; use http:// or https:// "
                                  "(or host:port)" % (scheme,))
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        userinfo = authority.rpartition("@")[0]
        if hide is not None:
            hide(userinfo)
            if ":" in userinfo:
                hide(userinfo.partition(":")[2])
        raise OptionError(option, "must not contain a user name or password (user:password@host); Ansible would show it "
                                  "at -vvv, and on Windows the proxy address is stored in the extension's public settings "
                                  "that anyone with Reader on the machine can see. Give only the address here and set "
                                  "proxy_username and proxy_password")
    if path.strip("/") or "?" in authority or "#" in authority:
        raise OptionError(option, "%r has a path, query or fragment; give only host:port or http://host:port" % (value,))
    if not authority:
        raise OptionError(option, "%r has no host; give host:port or http://host:port" % (value,))
    port = _check_host_port(authority, option)
    if scheme is None and port is None:
        raise OptionError(option, "%r has no port; give host:port (for example 10.0.0.10:3128) or a URL "
                                  "such as http://proxy.example.com" % (value,))
    return value


def validate_group_options(params):
    """hrw_group: every option, before any call."""
    validate_group_name(params["name"], "name")
    validate_credential_name(params.get("credential_name"))
    check_time_limits(params, ("wait_timeout",))


def validate_register_options(params, hide=None):
    """hrw_register: the options the per-machine specs do not cover (those are checked by specs_from_params)."""
    check_time_limits(params, ("wait_timeout", "heartbeat_timeout", "heartbeat_max_age"))
    validate_type_handler_version(params.get("type_handler_version"))
    validate_proxy_server(params.get("proxy_server"), hide=hide)
    if params.get("proxy_username") is not None and params.get("proxy_server") and not params["proxy_username"].strip():
        raise OptionError("proxy_username", "must not be empty; omit it for a proxy without authentication")
