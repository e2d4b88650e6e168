# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The facts schema of the host probes: what a host reports, for the one rule engine (_host_checks) to decide on.

PRIVATE TO THIS COLLECTION: no compatibility promise for code outside it.

The Linux probe (_host_probe.gather, run by the hrw_host_probe module) and the Windows probe (hrw_host_probe.ps1 on
_HrwProbe.psm1) both return one dict of this shape. Probes observe only: no thresholds, no statuses, no texts for people.
A group a probe did not gather (its checks were not selected) is absent; a fact it could not read is null.

Bump SCHEMA_VERSION on any incompatible change; the controller refuses facts of another version.
Python 3.8+, standard library only (also imported on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re

from ansible.module_utils.six.moves.urllib.parse import unquote, urlsplit

SCHEMA_VERSION = 1

# Type names: str, int, bool, float (int accepted), list (of 'items'), dict (fixed 'keys'), map (free keys, 'values').
# 'null': True lets the value be None. 'os' limits a key to one probe ('linux' or 'windows'); default both.
_STR = {'type': 'str'}
_STR_OR_NULL = {'type': 'str', 'null': True}
_INT_OR_NULL = {'type': 'int', 'null': True}
_STR_LIST = {'type': 'list', 'items': _STR}

TLS_FACTS = {'type': 'dict', 'null': True, 'keys': {
    'verified': {'type': 'bool'},
    'handshake_error': _STR_OR_NULL,
    # Linux: OpenSSL's verify code and message of the failed verification.
    'verify_code': {'type': 'int', 'null': True, 'os': 'linux'},
    'verify_message': {'type': 'str', 'null': True, 'os': 'linux'},
    # Windows: SslPolicyErrors and the X509ChainStatus flags .NET reported (mapped to OpenSSL codes on the controller).
    'policy_errors': {'type': 'str', 'null': True, 'os': 'windows'},
    'chain_status': {'type': 'list', 'items': _STR, 'os': 'windows'},
    'leaf_issuer': _STR_OR_NULL,
    'names': _STR_LIST,
    'server_time': {'type': 'float', 'null': True},
    'local_time': {'type': 'float', 'null': True},
    'date_error': _STR_OR_NULL,
}}

ENDPOINT_FACTS = {'type': 'dict', 'keys': {
    'host': _STR,
    'port': {'type': 'int'},
    'primary': {'type': 'bool'},
    'dns': {'type': 'dict', 'null': True, 'keys': {'addresses': _STR_LIST, 'error': _STR_OR_NULL}},
    'tcp': {'type': 'dict', 'null': True, 'keys': {'elapsed_ms': _INT_OR_NULL, 'error': _STR_OR_NULL}},
    'tls': TLS_FACTS,
}}

EXTENSION_SETTINGS = {'type': 'dict', 'null': True, 'keys': {
    'path': _STR,
    'url': _STR_OR_NULL,
    # Linux: protected Proxy_URL present (True/False), None when the protected settings are encrypted.
    # Windows: public ProxySettings present (True/False).
    'proxy_configured': {'type': 'bool', 'null': True},
    'error': _STR_OR_NULL,
}}
EXTENSION_STATUS = {'type': 'dict', 'null': True, 'keys': {'status': _STR, 'message': _STR_OR_NULL}}

VERSIONED_PATH = {'type': 'dict', 'keys': {'path': _STR_OR_NULL, 'version': _STR_OR_NULL}}

SCHEMA = {'type': 'dict', 'keys': {
    'schema_version': {'type': 'int'},
    'os_family': {'type': 'str', 'choices': ['linux', 'windows']},
    'cpu_cores': _INT_OR_NULL,
    'memory_mb': _INT_OR_NULL,
    'disk': {'type': 'dict', 'keys': {'path': _STR, 'free_mb': _INT_OR_NULL}},
    # Linux: os-release ID/VERSION_ID/PRETTY_NAME and platform.machine(); Windows: 'windows', Win32_OperatingSystem
    # Version/Caption/OSArchitecture/ProductType (1 workstation, 2 domain controller, 3 server).
    'os': {'type': 'dict', 'keys': {
        'id': _STR, 'version': _STR, 'name': _STR_OR_NULL, 'machine': _STR_OR_NULL,
        'product_type': {'type': 'int', 'null': True, 'os': 'windows'},
    }},
    # Worker endpoint first (primary), then the extra endpoints, as the controller listed them.
    'endpoints': {'type': 'list', 'items': ENDPOINT_FACTS},
    # *_proxy variables (lower-case names) of the probe's process and of the system (Linux /etc/environment, Windows the
    # machine environment), with user:password@ replaced by ***@ before they leave the host.
    'proxy_env': {'type': 'dict', 'keys': {'process': {'type': 'map', 'values': _STR}, 'system': {'type': 'map', 'values': _STR}}},
    # Windows: the WinHTTP proxy server ('netsh winhttp show proxy'), null for direct access.
    'winhttp_proxy': {'type': 'str', 'null': True, 'os': 'windows'},
    # Installed extension version directories. Linux: the newest settings file (its own folder) and the status of the newest
    # version directory. Windows: settings and status of every version directory; the controller picks the newest version.
    'extension': {'type': 'dict', 'keys': {
        'versions': _STR_LIST,
        'settings': dict(EXTENSION_SETTINGS, os='linux'),
        'status': dict(EXTENSION_STATUS, os='linux'),
        'by_version': {'type': 'map', 'os': 'windows', 'values': {'type': 'dict', 'keys': {
            'settings': EXTENSION_SETTINGS, 'status': EXTENSION_STATUS}}},
    }},
    # Linux: systemctl is-active/is-enabled (manager False without a running systemd). Windows: Win32_Service State and
    # StartMode ('Running', 'Auto', ...), both null when the service does not exist.
    'service': {'type': 'dict', 'keys': {'name': _STR, 'manager': {'type': 'bool'}, 'active': _STR_OR_NULL, 'enabled': _STR_OR_NULL}},
    'worker_user': {'type': 'dict', 'os': 'linux', 'keys': {'name': _STR, 'exists': {'type': 'bool'}}},
    'log_folders': {'type': 'map', 'values': {'type': 'bool'}},
    # Windows: the event log the worker writes to.
    'event_log': {'type': 'dict', 'os': 'windows', 'keys': {'name': _STR, 'exists': {'type': 'bool'}}},
    # Interpreter found and the first line it printed for --version.
    'runtimes': {'type': 'dict', 'keys': {'powershell': VERSIONED_PATH, 'python': VERSIONED_PATH}},
    # powershell_7_2_path/python_3_10_path as set (Linux /etc/environment, Windows machine environment) and whether each
    # path they name is an executable file.
    'runtime_paths': {'type': 'dict', 'keys': {'values': {'type': 'map', 'values': _STR},
                                               'executable': {'type': 'map', 'values': {'type': 'bool'}}}},
    # Agent-based (V1) worker: paths (files, folders, registry keys) found, command lines of running V1 processes,
    # V1 users (Linux) and services (Windows HealthService) present.
    'v1': {'type': 'dict', 'keys': {'paths': _STR_LIST, 'processes': _STR_LIST, 'users': _STR_LIST, 'services': _STR_LIST}},
}}

# The check ids, in the order hrw_health runs and reports them: the vocabulary probe and rule engine share.
CHECK_IDS = (
    'cpu_cores', 'memory', 'disk_space', 'os_supported',
    'dns', 'tcp_connect', 'tls', 'clock_skew', 'proxy',
    'worker_service', 'worker_user', 'extension_install', 'extension_settings', 'extension_status', 'log_folders',
    'runtime_powershell', 'runtime_python', 'runtime_paths', 'v1_remnants',
)

# Which fact groups each check needs: a probe gathers only the groups of the selected checks.
GROUPS_BY_CHECK = {
    'cpu_cores': ('cpu_cores',),
    'memory': ('memory_mb',),
    'disk_space': ('disk',),
    'os_supported': ('os',),
    'dns': ('endpoints',),
    'tcp_connect': ('endpoints', 'proxy_env'),  # the failure summary mentions a configured host proxy
    'tls': ('endpoints',),
    'clock_skew': ('endpoints',),
    'proxy': ('proxy_env', 'winhttp_proxy', 'extension'),
    'worker_service': ('service',),
    'worker_user': ('worker_user',),
    'extension_install': ('extension',),
    'extension_settings': ('extension',),
    'extension_status': ('extension',),
    'log_folders': ('log_folders', 'event_log'),
    'runtime_powershell': ('runtimes',),
    'runtime_python': ('runtimes',),
    'runtime_paths': ('runtime_paths',),
    'v1_remnants': ('v1',),
}
ALWAYS = ('schema_version', 'os_family')


def groups_for(check_ids):
    """Top-level fact keys needed by ``check_ids``."""
    wanted = []
    for check_id in check_ids:
        for group in GROUPS_BY_CHECK[check_id]:
            if group not in wanted:
                wanted.append(group)
    return wanted


def keys_for(os_family, schema=None):
    """Keys of a dict schema that a probe for ``os_family`` emits."""
    schema = schema or SCHEMA
    return sorted(k for k, v in schema['keys'].items() if v.get('os') in (None, os_family))


def _type_ok(value, kind):
    if kind == 'str':
        return isinstance(value, str)
    if kind == 'bool':
        return isinstance(value, bool)
    if kind == 'int':
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == 'float':
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == 'list':
        return isinstance(value, list)
    return isinstance(value, dict)


def validate(facts, os_family=None, complete=False):
    """Problems of ``facts`` against the schema, as 'path: message' strings (empty when valid).

    ``complete``: every key of the probe's OS must be present (a probe run with all checks selected).
    """
    problems = []
    family = os_family or (facts.get('os_family') if isinstance(facts, dict) else None)
    _validate(facts, SCHEMA, 'facts', family, complete, problems)
    if isinstance(facts, dict) and facts.get('schema_version') != SCHEMA_VERSION:
        problems.append('facts.schema_version: %r, expected %d' % (facts.get('schema_version'), SCHEMA_VERSION))
    return problems


def _validate(value, schema, path, family, complete, problems):
    if value is None:
        if not schema.get('null'):
            problems.append('%s: null is not allowed' % path)
        return
    kind = schema['type']
    if not _type_ok(value, kind):
        problems.append('%s: %s expected, got %s' % (path, kind, type(value).__name__))
        return
    if 'choices' in schema and value not in schema['choices']:
        problems.append('%s: %r not one of %s' % (path, value, ', '.join(schema['choices'])))
    if kind == 'list':
        for index, item in enumerate(value):
            _validate(item, schema['items'], '%s[%d]' % (path, index), family, complete, problems)
    elif kind == 'map':
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append('%s: key %r is not a string' % (path, key))
            _validate(item, schema['values'], '%s.%s' % (path, key), family, complete, problems)
    elif kind == 'dict':
        known = schema['keys']
        for key in sorted(set(value) - set(known)):
            problems.append('%s.%s: not in the facts schema' % (path, key))
        for key, sub in sorted(known.items()):
            foreign = sub.get('os') not in (None, family)
            if key in value:
                if foreign and family:
                    problems.append('%s.%s: a %s-only fact in %s facts' % (path, key, sub['os'], family))
                _validate(value[key], sub, '%s.%s' % (path, key), family, complete, problems)
            elif not foreign and (complete or path != 'facts' or key in ALWAYS):
                problems.append('%s.%s: missing' % (path, key))


# ---------------------------------------------------------------------------------------------------- shared parsers
# Plain parsing both sides need (the probe to reach endpoints, the controller to name them); no decision in them.

_URL_CREDENTIALS = re.compile(r'(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@')


def redact_url(value):
    """Hide ``user:password@`` in a URL before it leaves the host."""
    if value is None:
        return None
    return _URL_CREDENTIALS.sub(lambda m: m.group('scheme') + '***@', value)


def parse_key_value_file(text):
    """KEY=value lines of /etc/environment or /etc/os-release: optional quotes, '#' comments, optional 'export '."""
    values = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        if line.startswith('export '):
            line = line[len('export '):].strip()
        key, value = line.split('=', 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        values[key.strip()] = value
    return values


def parse_endpoint(value):
    """'https://h:8443/x' / 'h:8443' / 'h' -> (host, port)."""
    text = value.strip()
    if '://' not in text:
        text = 'https://' + text
    parts = urlsplit(text)
    if not parts.hostname:
        raise ValueError('cannot read a host name from %r' % value)
    return parts.hostname, parts.port or 443


def parse_proxy_url(url):
    """'http://user:pass@host:3128' -> {'host', 'port', 'authorization'} (Basic credentials or None)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != 'http' or not parts.hostname:
        raise ValueError('proxy_url must look like http://[user:password@]host:port')
    authorization = None
    if parts.username is not None:
        pair = '%s:%s' % (unquote(parts.username), unquote(parts.password or ''))
        authorization = base64.b64encode(pair.encode('utf-8')).decode('ascii')
    return {'host': parts.hostname, 'port': parts.port or 80, 'authorization': authorization}
