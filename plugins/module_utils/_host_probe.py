# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Linux host probe of ``hrw_health``: files, sockets, TLS, processes -> facts (schema in _host_facts).

PRIVATE TO THIS COLLECTION: no compatibility promise for code outside it.

Functions return plain facts and decide nothing; _host_checks decides, on the controller. ``gather`` builds the whole
facts dict. Python 3.8+, standard library only (runs on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import multiprocessing
import os
import platform
import re
import shutil
import socket
import ssl
import time
from email.utils import parsedate_to_datetime

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_facts as schema
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._host_facts import (  # noqa: F401 pylint: disable=unused-import
    parse_endpoint, parse_key_value_file, parse_proxy_url, redact_url)

# Documented locations (DOMAIN.md sections 8 and 14). Unit tests patch these constants.
EXTENSION_NAME = 'Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux'
WAAGENT_DIR = '/var/lib/waagent'
ENVIRONMENT_FILE = '/etc/environment'
OS_RELEASE_FILES = ('/etc/os-release', '/usr/lib/os-release')
WORKER_SERVICE = 'hwd'
WORKER_USER = 'hweautomation'
LOG_FOLDERS = ('/var/log/azure/' + EXTENSION_NAME, '/home/hweautomation')
V1_PATHS = (
    '/opt/microsoft/omsagent',
    '/var/opt/microsoft/omsagent',
    '/opt/microsoft/omsconfig/modules/nxOMSAutomationWorker',
    '/home/nxautomation/state/worker.conf',
)
V1_USERS = ('nxautomation',)
V1_PROCESS_MARKERS = ('automationworker/worker/', 'nxOMSAutomationWorker')
PROC_DIR = '/proc'
RUNTIME_PATH_VARIABLES = ('powershell_7_2_path', 'python_3_10_path')


def parse_version(text):
    """'1.1.11' / 'v7.4.2' -> (1, 1, 11), only to order version directories (no decision is taken on it here)."""
    match = re.search(r'(\d+(?:\.\d+)*)', text or '')
    return tuple(int(p) for p in match.group(1).split('.')) if match else ()


def read_text(path):
    try:
        with open(path, 'r') as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------------------------------------------- host facts

def memory_total_mb(meminfo_path='/proc/meminfo'):
    text = read_text(meminfo_path) or ''
    match = re.search(r'^MemTotal:\s+(\d+)\s+kB', text, re.MULTILINE)
    return int(match.group(1)) // 1024 if match else None


def disk_free_mb(path):
    """Free MB for unprivileged users on the file system holding ``path`` (or its nearest existing parent)."""
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe.rstrip('/')) or '/'
        if parent == probe:
            break
        probe = parent
    try:
        stat = os.statvfs(probe)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize // (1024 * 1024)


def os_release_text():
    for path in OS_RELEASE_FILES:
        text = read_text(path)
        if text is not None:
            return text
    return ''


def user_exists(name):
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def v1_processes():
    """Command lines of running V1 worker processes."""
    found = []
    for cmdline in glob.glob(os.path.join(PROC_DIR, '[0-9]*', 'cmdline')):
        try:
            with open(cmdline, 'rb') as handle:
                text = handle.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()
        except (IOError, OSError):
            continue
        if any(marker in text for marker in V1_PROCESS_MARKERS):
            found.append(text)
    return found


# ---------------------------------------------------------------------------------------------------- extension state

def extension_versions():
    prefix = os.path.join(WAAGENT_DIR, EXTENSION_NAME + '-')
    return sorted((p[len(prefix):] for p in glob.glob(prefix + '*') if os.path.isdir(p)), key=parse_version)


def _newest_numbered(paths):
    """The file with the highest sequence number (``3.settings`` > ``2.settings``), then the newest."""
    def key(path):
        stem = os.path.basename(path).split('.')[0]
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            mtime = 0
        return (int(stem) if stem.isdigit() else -1, mtime)
    return max(paths, key=key) if paths else None


def extension_settings():
    """{'path', 'url', 'has_protected', 'proxy_url_set', 'error'} of the newest settings file, or None.

    ``proxy_url_set``: True/False when the protected settings are readable (a JSON object), None when they are encrypted
    (the real extension handler stores them as a base64 PKCS#7 blob), False when there are none. The value is never read out.
    """
    candidates = glob.glob(os.path.join(WAAGENT_DIR, EXTENSION_NAME, '**', '*.settings'), recursive=True)
    candidates += glob.glob(os.path.join(WAAGENT_DIR, EXTENSION_NAME + '-*', 'config', '*.settings'))
    path = _newest_numbered(candidates)
    if not path:
        return None
    facts = {'path': path, 'url': None, 'has_protected': False, 'proxy_url_set': False, 'error': None}
    try:
        data = json.loads(read_text(path) or '')
        handler = (data.get('runtimeSettings') or [{}])[0].get('handlerSettings') or {}
        public = handler.get('publicSettings') or {}
        if isinstance(public, str):
            public = json.loads(public)
        facts['url'] = public.get('AutomationAccountURL')
        protected = handler.get('protectedSettings')
        facts['has_protected'] = bool(protected)
        if isinstance(protected, dict):
            facts['proxy_url_set'] = bool(protected.get('Proxy_URL'))
        elif protected:
            facts['proxy_url_set'] = None
    except (ValueError, AttributeError, IndexError, TypeError) as exc:
        facts['error'] = 'unreadable settings file %s: %s' % (path, exc)
    return facts


def extension_status():
    """(status, message) of the newest status file of the newest install dir, or (None, None)."""
    versions = extension_versions()
    if not versions:
        return None, None
    base = os.path.join(WAAGENT_DIR, '%s-%s' % (EXTENSION_NAME, versions[-1]), 'status')
    path = _newest_numbered(glob.glob(os.path.join(base, '*.status')))
    if not path:
        return None, None
    try:
        data = json.loads(read_text(path) or '')
        if isinstance(data, list):
            data = data[0]
        status = data.get('status') or {}
        message = (status.get('formattedMessage') or {}).get('message')
        return status.get('status') or 'unknown', message
    except (ValueError, AttributeError, IndexError, TypeError) as exc:
        return 'error', 'unreadable status file %s: %s' % (path, exc)


# ---------------------------------------------------------------------------------------------------- DER names

def _der_read(data, pos):
    """(tag, start of value, end of value) of the TLV at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], 'big')
        pos += count
    return tag, pos, pos + length


def _der_children(data, start, end):
    items = []
    while start < end:
        tag, vstart, vend = _der_read(data, start)
        items.append((tag, vstart, vend))
        start = vend
    return items


_NAME_OIDS = {b'\x55\x04\x03': 'CN', b'\x55\x04\x0a': 'O', b'\x55\x04\x0b': 'OU'}


def _der_name(data, start, end):
    fields = {}
    for _tag, sstart, send in _der_children(data, start, end):          # SET
        for _t, astart, aend in _der_children(data, sstart, send):      # AttributeTypeAndValue
            parts = _der_children(data, astart, aend)
            if len(parts) != 2:
                continue
            oid = data[parts[0][1]:parts[0][2]]
            if oid in _NAME_OIDS:
                fields.setdefault(_NAME_OIDS[oid], data[parts[1][1]:parts[1][2]].decode('utf-8', 'replace'))
    return fields


def certificate_names(der):
    """{'issuer': {CN, O, OU}, 'subject': {...}} of a DER certificate; empty dicts when it cannot be parsed."""
    try:
        _tag, cstart, cend = _der_read(der, 0)
        tbs = _der_children(der, cstart, cend)[0]
        fields = _der_children(der, tbs[1], tbs[2])
        if fields and fields[0][0] == 0xA0:  # explicit version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject
        issuer, subject = fields[2], fields[4]
        return {'issuer': _der_name(der, issuer[1], issuer[2]), 'subject': _der_name(der, subject[1], subject[2])}
    except (IndexError, ValueError):
        return {'issuer': {}, 'subject': {}}


def _display(name):
    parts = ['%s=%s' % (k, name[k]) for k in ('CN', 'O') if name.get(k)]
    return ', '.join(parts) or None


# ---------------------------------------------------------------------------------------------------- network probes

def resolve(host, port):
    """(addresses, error)."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, socket.herror, UnicodeError) as exc:
        return [], str(exc)
    addresses = []
    for info in infos:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    return addresses, None


class ProxyError(OSError):
    """The HTTP proxy refused or failed the CONNECT."""


def open_connection(host, port, timeout, proxy=None):
    """A connected socket to host:port, directly or through an HTTP proxy tunnel (CONNECT)."""
    if not proxy:
        return socket.create_connection((host, port), timeout=timeout)
    sock = socket.create_connection((proxy['host'], proxy['port']), timeout=timeout)
    try:
        request = 'CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n' % (host, port, host, port)
        if proxy.get('authorization'):
            request += 'Proxy-Authorization: Basic %s\r\n' % proxy['authorization']
        sock.sendall((request + '\r\n').encode('ascii'))
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = sock.recv(1)  # byte by byte: nothing of the tunnelled stream may be consumed
            if not chunk or len(data) > 16384:
                raise ProxyError('the proxy closed the connection during CONNECT')
            data += chunk
        status = data.split(b'\r\n', 1)[0].decode('iso-8859-1')
        fields = status.split(' ', 2)
        if len(fields) < 2 or fields[1] != '200':
            raise ProxyError('the proxy answered "%s" to CONNECT %s:%d' % (status, host, port))
    except Exception:
        sock.close()
        raise
    return sock


def tcp_connect(host, port, timeout, proxy=None):
    """(elapsed ms, error); through ``proxy`` (parse_proxy_url) this opens the CONNECT tunnel."""
    started = time.monotonic()
    try:
        sock = open_connection(host, port, timeout, proxy)
        sock.close()
    except (OSError, socket.timeout) as exc:
        return None, str(exc) or exc.__class__.__name__
    return int((time.monotonic() - started) * 1000), None


def _http_date(tls, host, timeout):
    """Seconds since the epoch of the HTTP Date header of ``HEAD /``, and the local time at receipt."""
    tls.settimeout(timeout)
    tls.sendall(('HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: hrw_health\r\nConnection: close\r\n\r\n' % host).encode('ascii'))
    data = b''
    while b'\r\n\r\n' not in data and len(data) < 65536:
        chunk = tls.recv(4096)
        if not chunk:
            break
        data += chunk
    received = time.time()
    for line in data.decode('iso-8859-1').split('\r\n')[1:]:
        if line.lower().startswith('date:'):
            return parsedate_to_datetime(line.split(':', 1)[1].strip()).timestamp(), received
    raise ValueError('no Date header in the response')


def _chain_names(tls, der_leaf, verified):
    """Display string of the leaf issuer and the CN/O strings of every certificate name we can see."""
    chain = []
    getter = getattr(tls, 'get_verified_chain' if verified else 'get_unverified_chain', None)  # Python 3.13+
    if getter is not None:
        try:
            chain = [c if isinstance(c, bytes) else c.public_bytes() for c in (getter() or [])]
        except (ssl.SSLError, AttributeError, ValueError):
            chain = []
    leaf = certificate_names(der_leaf) if der_leaf else {'issuer': {}, 'subject': {}}
    names = list(leaf['issuer'].values())
    for der in chain[1:]:
        parsed = certificate_names(der)
        names.extend(parsed['subject'].values())
        names.extend(parsed['issuer'].values())
    return _display(leaf['issuer']), names, len(chain)


def probe_tls(host, port, timeout, want_date=True, proxy=None):
    """TLS facts for _host_checks.check_tls plus the HTTP Date for check_clock_skew.

    First a verified handshake against the system trust store (OpenSSL default paths, so SSL_CERT_FILE applies);
    when verification fails, a second handshake without verification reads who issued the certificate.
    With ``proxy`` (parse_proxy_url) both go through a CONNECT tunnel, where an explicit TLS-inspecting proxy shows itself.
    """
    facts = {'verified': False, 'handshake_error': None, 'verify_code': None, 'verify_message': None,
             'leaf_issuer': None, 'names': [], 'chain_length': 0, 'server_time': None, 'local_time': None, 'date_error': None}
    context = ssl.create_default_context()
    try:
        sock = open_connection(host, port, timeout, proxy)
    except (OSError, socket.timeout) as exc:
        facts['handshake_error'] = 'cannot connect: %s' % (str(exc) or exc.__class__.__name__)
        return facts
    tls = None
    try:
        try:
            tls = context.wrap_socket(sock, server_hostname=host)
            facts['verified'] = True
        except ssl.SSLCertVerificationError as exc:
            facts['verify_code'] = exc.verify_code
            facts['verify_message'] = exc.verify_message
            sock.close()
            insecure = ssl.create_default_context()
            insecure.check_hostname = False
            insecure.verify_mode = ssl.CERT_NONE
            sock = open_connection(host, port, timeout, proxy)
            tls = insecure.wrap_socket(sock, server_hostname=host)
        der = tls.getpeercert(binary_form=True)
        facts['leaf_issuer'], facts['names'], facts['chain_length'] = _chain_names(tls, der, facts['verified'])
        if want_date:
            try:
                facts['server_time'], facts['local_time'] = _http_date(tls, host, timeout)
            except (OSError, ValueError, TypeError, socket.timeout) as exc:
                facts['date_error'] = str(exc) or exc.__class__.__name__
    except (ssl.SSLError, OSError, socket.timeout) as exc:
        facts['handshake_error'] = str(exc) or exc.__class__.__name__
    finally:
        (tls or sock).close()
    return facts


# ---------------------------------------------------------------------------------------------------- the whole probe

def cpu_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        try:
            return multiprocessing.cpu_count()
        except NotImplementedError:
            return None


def _proxies(values):
    return dict((k.lower(), redact_url(v)) for k, v in (values or {}).items()
                if k.lower() in ('http_proxy', 'https_proxy', 'no_proxy') and v)


def systemd_unit(run_command, systemctl, name):
    """{'manager', 'active', 'enabled'} from systemctl; manager False when systemd is not the running init."""
    if not systemctl or not os.path.isdir('/run/systemd/system'):
        return {'manager': False, 'active': None, 'enabled': None}
    facts = {'manager': True}
    for verb in ('is-active', 'is-enabled'):
        _rc, out, _err = run_command([systemctl, verb, name])
        facts[verb.split('-')[1]] = out.strip() or 'unknown'
    return facts


def command_version(run_command, argv):
    """First non-empty output line of ``argv`` (for example 'PowerShell 7.4.2'), None when it cannot run."""
    try:
        _rc, out, err = run_command(argv)
    except (OSError, ValueError):
        return None
    for line in (out or err or '').splitlines():
        if line.strip():
            return line.strip()
    return None


def _endpoint_facts(host, port, primary, steps, timeout, proxy):
    item = {'host': host, 'port': port, 'primary': primary, 'dns': None, 'tcp': None, 'tls': None}
    if 'dns' in steps:
        addresses, error = resolve(host, port)
        item['dns'] = {'addresses': addresses, 'error': error}
    if 'tcp' in steps:
        elapsed, error = tcp_connect(host, port, timeout, proxy)
        item['tcp'] = {'elapsed_ms': elapsed, 'error': error}
    want_date = primary and 'date' in steps
    if 'tls' in steps or want_date:
        if item['tcp'] and item['tcp']['error']:
            facts = dict(TLS_NOT_TRIED)
        else:
            facts = probe_tls(host, port, timeout, want_date=want_date, proxy=proxy)
        facts.pop('chain_length', None)
        item['tls'] = facts
    return item


TLS_NOT_TRIED = {'verified': False, 'handshake_error': 'not tried: TCP connection failed', 'verify_code': None,
                 'verify_message': None, 'leaf_issuer': None, 'names': [], 'server_time': None, 'local_time': None,
                 'date_error': None}


def gather(groups, network_steps=(), endpoints=(), use_settings_url=False, timeout=5, proxy=None, disk_path=None,
           run_command=None, get_bin_path=None):
    """The facts (_host_facts.SCHEMA) of the fact ``groups`` asked for (top-level keys of the schema).

    ``network_steps``: which of 'dns', 'tcp', 'tls', 'date' (the HTTP Date header, worker endpoint only) to take per endpoint.

    ``endpoints``: [{'host', 'port', 'primary'}] from the controller; with ``use_settings_url`` the worker endpoint of the
    extension settings is put first (the controller had no automation_account_url). ``proxy``: {'host', 'port',
    'authorization'} for a CONNECT tunnel. ``run_command(argv) -> (rc, out, err)`` and ``get_bin_path(name)`` come from
    AnsibleModule.
    """
    facts = {'schema_version': schema.SCHEMA_VERSION, 'os_family': 'linux'}
    settings = extension_settings() if ('extension' in groups or use_settings_url) else None
    environment = parse_key_value_file(read_text(ENVIRONMENT_FILE))
    if 'cpu_cores' in groups:
        facts['cpu_cores'] = cpu_cores()
    if 'memory_mb' in groups:
        facts['memory_mb'] = memory_total_mb()
    if 'disk' in groups:
        path = disk_path or '/var'
        facts['disk'] = {'path': path, 'free_mb': disk_free_mb(path)}
    if 'os' in groups:
        release = parse_key_value_file(os_release_text())
        facts['os'] = {'id': release.get('ID', ''), 'version': release.get('VERSION_ID', ''),
                       'name': release.get('PRETTY_NAME') or None, 'machine': platform.machine() or None}
    if 'endpoints' in groups:
        targets = [dict(e) for e in endpoints]
        if use_settings_url and settings and settings.get('url'):
            host, port = parse_endpoint(settings['url'])
            targets = [{'host': host, 'port': port, 'primary': True}] + [
                t for t in targets if (t['host'], t['port']) != (host, port)]
        facts['endpoints'] = [_endpoint_facts(t['host'], t['port'], bool(t.get('primary')), network_steps, timeout, proxy)
                              for t in targets]
    if 'proxy_env' in groups:
        facts['proxy_env'] = {'process': _proxies(dict(os.environ)), 'system': _proxies(environment)}
    if 'extension' in groups or use_settings_url:  # the controller names the settings URL it used
        shaped = None
        if settings:
            shaped = {'path': settings['path'], 'url': settings['url'], 'proxy_configured': settings['proxy_url_set'],
                      'error': settings['error']}
        status, message = extension_status()
        facts['extension'] = {'versions': extension_versions(), 'settings': shaped,
                              'status': {'status': status, 'message': message} if status is not None else None}
    if 'service' in groups:
        unit = systemd_unit(run_command, get_bin_path('systemctl') if get_bin_path else None, WORKER_SERVICE)
        facts['service'] = {'name': WORKER_SERVICE, 'manager': unit['manager'], 'active': unit['active'], 'enabled': unit['enabled']}
    if 'worker_user' in groups:
        facts['worker_user'] = {'name': WORKER_USER, 'exists': user_exists(WORKER_USER)}
    if 'log_folders' in groups:
        facts['log_folders'] = dict((p, os.path.isdir(p)) for p in LOG_FOLDERS)
    if 'runtimes' in groups:
        runtimes = {}
        for key, name in (('powershell', 'pwsh'), ('python', 'python3')):
            path = shutil.which(name)
            runtimes[key] = {'path': path, 'version': command_version(run_command, [path, '--version']) if path else None}
        facts['runtimes'] = runtimes
    if 'runtime_paths' in groups:
        values = dict((k, environment[k]) for k in RUNTIME_PATH_VARIABLES if environment.get(k))
        facts['runtime_paths'] = {'values': values, 'executable': dict(
            (p, os.path.isfile(p) and os.access(p, os.X_OK)) for p in values.values())}
    if 'v1' in groups:
        facts['v1'] = {'paths': [p for p in V1_PATHS if os.path.exists(p)], 'processes': v1_processes(),
                       'users': [u for u in V1_USERS if user_exists(u)], 'services': []}
    return facts
