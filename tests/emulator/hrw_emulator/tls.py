"""A private CA and a server certificate that Python 3.13's VERIFY_X509_STRICT accepts."""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DNS_NAMES = ["localhost", "*.azure-automation.net", "*.jrds.emu.azure-automation.net"]


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hrw-emulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path, key):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _ca(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name("hrw-emulator local CA")).issuer_name(_name("hrw-emulator local CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_key(directory / "ca-key.pem", key)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _leaf(directory, hosts):
    ca_key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName(n) for n in DNS_NAMES]
    ips = {"127.0.0.1"}
    for host in hosts:
        try:
            ips.add(str(ipaddress.ip_address(host)))
        except ValueError:
            if host and host not in DNS_NAMES:
                names.append(x509.DNSName(host))
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in sorted(ips) if ip not in ("0.0.0.0", "::")]
    cert = (x509.CertificateBuilder()
            .subject_name(_name("hrw-emulator")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_key(directory / "server-key.pem", key)
    (directory / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "server-hosts.txt").write_text("\n".join(sorted(set(hosts))))


def ensure(directory, hosts):
    """Create (once) the CA and a server cert for hosts; return (ca, cert, key) paths.

    The CA is kept across restarts so clients keep trusting it; the leaf is re-issued when the host list changes.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "ca.pem").exists() or not (directory / "ca-key.pem").exists():
        _ca(directory)
        (directory / "server.pem").unlink(missing_ok=True)
    hosts_file = directory / "server-hosts.txt"
    if (not (directory / "server.pem").exists() or not hosts_file.exists()
            or hosts_file.read_text() != "\n".join(sorted(set(hosts)))):
        _leaf(directory, hosts)
    return directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
