# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hrw_health fact gathering: a real TLS server on 127.0.0.1 with a generated CA, and fake extension/V1 trees."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import json
import os
import socket
import ssl
import threading

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_checks as hc
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_probe as probe

x509 = pytest.importorskip('cryptography.x509')
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
except ImportError:  # pragma: no cover
    pytest.skip('http.server needed', allow_module_level=True)


def _name(cn, org):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _make_pki(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(u'HRW Test Interception Root', u'Contoso Test')
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(_name(u'localhost', u'Contoso Test')).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(u'localhost'),
                                                        x509.IPAddress(ipaddress.ip_address(u'127.0.0.1'))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {'ca': str(directory / 'ca.pem'), 'cert': str(directory / 'server.pem'), 'key': str(directory / 'server.key')}
    with open(paths['ca'], 'wb') as handle:
        handle.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths['cert'], 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths['key'], 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    paths['der'] = cert.public_bytes(serialization.Encoding.DER)
    return paths


class _Handler(BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def tls_server(tmp_path_factory):
    pki = _make_pki(tmp_path_factory.mktemp('pki'))
    server = HTTPServer(('127.0.0.1', 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki['cert'], pki['key'])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield dict(pki, port=server.server_address[1])
    server.shutdown()


def test_certificate_names_parses_issuer_and_subject(tls_server):
    names = probe.certificate_names(tls_server['der'])
    assert names['issuer'] == {'CN': 'HRW Test Interception Root', 'O': 'Contoso Test'}
    assert names['subject']['CN'] == 'localhost'
    assert probe.certificate_names(b'\x30\x03\x02\x01\x01') == {'issuer': {}, 'subject': {}}


def test_untrusted_chain_is_reported_as_interception(tls_server, monkeypatch, tmp_path):
    empty = tmp_path / 'empty.pem'
    empty.write_text(u'')
    monkeypatch.setenv('SSL_CERT_FILE', str(empty))
    monkeypatch.setenv('SSL_CERT_DIR', str(tmp_path))
    facts = probe.probe_tls('127.0.0.1', tls_server['port'], 5)
    assert facts['verified'] is False
    assert facts['verify_code'] in (2, 18, 19, 20, 21)
    assert 'HRW Test Interception Root' in facts['leaf_issuer']
    item = hc.check_tls('127.0.0.1', tls_server['port'], facts)
    assert item['status'] == 'fail'
    assert 'TLS-intercepting proxy' in item['summary']
    assert facts['server_time'] is not None  # the Date header is read even without trust


def test_trusted_but_unexpected_issuer_warns_interception(tls_server, monkeypatch):
    monkeypatch.setenv('SSL_CERT_FILE', tls_server['ca'])
    facts = probe.probe_tls('127.0.0.1', tls_server['port'], 5)
    assert facts['verified'] is True
    assert 'Contoso Test' in facts['names']
    item = hc.check_tls('127.0.0.1', tls_server['port'], facts)
    assert item['status'] == 'warn' and item['summary'].startswith('TLS interception')
    assert hc.check_tls('127.0.0.1', tls_server['port'], facts, ['Contoso Test'])['status'] == 'ok'
    skew = facts['local_time'] - facts['server_time']
    assert abs(skew) < 5


def test_connection_refused_is_a_handshake_error():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    facts = probe.probe_tls('127.0.0.1', port, 2)
    assert facts['handshake_error'].startswith('cannot connect')
    elapsed, error = probe.tcp_connect('127.0.0.1', port, 2)
    assert elapsed is None and error


def test_tcp_connect_and_resolve(tls_server):
    elapsed, error = probe.tcp_connect('127.0.0.1', tls_server['port'], 2)
    assert error is None and elapsed >= 0
    assert probe.resolve('127.0.0.1', 443) == (['127.0.0.1'], None)
    addresses, error = probe.resolve('name.invalid', 443)
    assert addresses == [] and error


# ---------------------------------------------------------------------------------------------------- files

@pytest.fixture
def waagent(tmp_path, monkeypatch):
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(tmp_path))
    return tmp_path


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_extension_versions_and_newest_settings(waagent):
    name = probe.EXTENSION_NAME
    (waagent / (name + '-1.1.9')).mkdir()
    (waagent / (name + '-1.1.13')).mkdir()
    (waagent / (name + '-1.1.13.settings-not-a-dir')).write_text(u'')
    assert probe.extension_versions() == ['1.1.9', '1.1.13']
    url = 'https://abc.jrds.emu.azure-automation.net/automationAccounts/abc'
    _write(waagent / (name + '-1.1.13') / 'config' / '1.settings',
           {'runtimeSettings': [{'handlerSettings': {'publicSettings': {'AutomationAccountURL': 'https://old'}}}]})
    _write(waagent / (name + '-1.1.13') / 'config' / '2.settings',
           {'runtimeSettings': [{'handlerSettings': {'publicSettings': {'AutomationAccountURL': url},
                                                     'protectedSettings': 'MIIBencrypted', 'protectedSettingsCertThumbprint': 'AB'}}]})
    facts = probe.extension_settings()
    assert facts['url'] == url and facts['has_protected'] is True and facts['error'] is None
    assert facts['proxy_url_set'] is None  # encrypted blob: cannot tell
    _write(waagent / (name + '-1.1.13') / 'config' / '3.settings',
           {'runtimeSettings': [{'handlerSettings': {'publicSettings': {'AutomationAccountURL': url},
                                                     'protectedSettings': {'Proxy_URL': 'http://u:p@proxy:3128'}}}]})
    assert probe.extension_settings()['proxy_url_set'] is True
    _write(waagent / (name + '-1.1.13') / 'config' / '4.settings',
           {'runtimeSettings': [{'handlerSettings': {'publicSettings': {'AutomationAccountURL': url}, 'protectedSettings': {}}}]})
    assert probe.extension_settings()['proxy_url_set'] is False


def test_extension_settings_missing_and_broken(waagent):
    assert probe.extension_settings() is None
    _write(waagent / probe.EXTENSION_NAME / '0.settings', '{not json')
    assert 'unreadable' in probe.extension_settings()['error']


def test_extension_status(waagent):
    assert probe.extension_status() == (None, None)
    base = waagent / (probe.EXTENSION_NAME + '-1.1.13') / 'status'
    _write(base / '0.status', [{'status': {'status': 'transitioning'}}])
    _write(base / '1.status', [{'status': {'status': 'success', 'formattedMessage': {'lang': 'en-US', 'message': 'Enable succeeded'}}}])
    assert probe.extension_status() == ('success', 'Enable succeeded')


def test_v1_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(probe, 'PROC_DIR', str(tmp_path))
    _write(tmp_path / '10' / 'cmdline', 'python\0/opt/microsoft/omsconfig/modules/nxOMSAutomationWorker/x/automationworker/worker/main.py\0')
    _write(tmp_path / '11' / 'cmdline', '/usr/bin/hwd\0')
    found = probe.v1_processes()
    assert len(found) == 1 and 'main.py' in found[0]


def test_memory_and_disk(tmp_path):
    meminfo = tmp_path / 'meminfo'
    meminfo.write_text(u'MemTotal:        4026532 kB\nMemFree: 1 kB\n')
    assert probe.memory_total_mb(str(meminfo)) == 3932
    assert probe.memory_total_mb(str(tmp_path / 'none')) is None
    assert probe.disk_free_mb(str(tmp_path / 'does' / 'not' / 'exist')) > 0


def test_read_text_missing(tmp_path):
    assert probe.read_text(str(tmp_path / 'x')) is None
    os.mkdir(str(tmp_path / 'd'))
    assert probe.read_text(str(tmp_path / 'd')) is None


# ---------------------------------------------------------------------------------------------------- proxy tunnel

class _ConnectProxy(object):
    """A tiny HTTP CONNECT proxy on 127.0.0.1 that demands Basic credentials and counts tunnels."""

    def __init__(self, credentials):
        self.expected = 'Basic ' + base64.b64encode(credentials.encode()).decode() if credentials else None
        self.tunnels = 0
        self.server = socket.socket()
        self.server.bind(('127.0.0.1', 0))
        self.server.listen(5)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client):
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = client.recv(1024)
            if not chunk:
                client.close()
                return
            data += chunk
        lines = data.decode('latin-1').split('\r\n')
        target = lines[0].split()[1]
        auth = [v.split(':', 1)[1].strip() for v in lines[1:] if v.lower().startswith('proxy-authorization:')]
        if self.expected and auth != [self.expected]:
            client.sendall(b'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n')
            client.close()
            return
        host, port = target.rsplit(':', 1)
        upstream = socket.create_connection((host, int(port)))
        self.tunnels += 1
        client.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()


def test_parse_proxy_url():
    assert probe.parse_proxy_url('http://proxy:3128') == {'host': 'proxy', 'port': 3128, 'authorization': None}
    parsed = probe.parse_proxy_url('http://al%40ice:p%3Ass@10.0.0.1')
    assert parsed['port'] == 80 and base64.b64decode(parsed['authorization']) == b'al@ice:p:ss'
    with pytest.raises(ValueError):
        probe.parse_proxy_url('https://proxy:3128')


def test_tls_through_an_authenticating_proxy(tls_server, monkeypatch):
    monkeypatch.setenv('SSL_CERT_FILE', tls_server['ca'])
    proxy = _ConnectProxy('bob:hunter2')
    try:
        good = probe.parse_proxy_url('http://bob:hunter2@127.0.0.1:%d' % proxy.port)
        elapsed, error = probe.tcp_connect('127.0.0.1', tls_server['port'], 5, good)
        assert error is None and proxy.tunnels == 1
        facts = probe.probe_tls('127.0.0.1', tls_server['port'], 5, proxy=good)
        assert facts['verified'] is True and facts['server_time'] is not None and proxy.tunnels == 2
        bad = probe.parse_proxy_url('http://bob:wrong@127.0.0.1:%d' % proxy.port)
        elapsed, error = probe.tcp_connect('127.0.0.1', tls_server['port'], 5, bad)
        assert elapsed is None and '407' in error
        facts = probe.probe_tls('127.0.0.1', tls_server['port'], 5, proxy=bad)
        assert '407' in facts['handshake_error']
    finally:
        proxy.close()
