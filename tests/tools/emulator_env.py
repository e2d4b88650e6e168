"""Turn the emulator's ready line into shell `export` lines for the collection's modules and tests.

Usage: . <(python3 tests/tools/emulator_env.py READY_JSON_FILE CA_BUNDLE_OUT)

Writes CA_BUNDLE_OUT = the system CA bundle plus the emulator's CA (TLS verification stays on, and real hosts still
verify), and prints exports for:
  AZURE_SUBSCRIPTION_ID AZURE_CLIENT_ID AZURE_SECRET AZURE_TENANT AZURE_CLOUD_ENVIRONMENT  (read by the modules)
  REQUESTS_CA_BUNDLE SSL_CERT_FILE                                                         (trust for requests and ssl)
  HRW_ARM_ENDPOINT HRW_ADMIN_URL HRW_RESOURCE_GROUP HRW_AUTOMATION_ACCOUNT HRW_LOCATION HRW_HYBRID_SERVICE_URL
"""

import json
import shlex
import ssl
import sys


def system_bundle():
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate:
            try:
                with open(candidate, encoding="utf-8") as handle:
                    return handle.read()
            except OSError:
                continue
    return ""


def write_ca_bundle(ready, bundle_out):
    """Write the system CA bundle followed by the emulator's CA (from its ready line) to bundle_out."""
    with open(ready["ca_bundle"], encoding="utf-8") as handle:
        emulator_ca = handle.read()
    with open(bundle_out, "w", encoding="utf-8") as handle:
        handle.write(system_bundle().rstrip("\n") + "\n" + emulator_ca)


def main(ready_file, bundle_out):
    with open(ready_file, encoding="utf-8") as handle:
        ready = json.loads(next(line for line in handle if line.strip()))
    write_ca_bundle(ready, bundle_out)
    exports = {
        "AZURE_SUBSCRIPTION_ID": ready["subscription_id"],
        "AZURE_CLIENT_ID": ready["client_id"],
        "AZURE_SECRET": ready["client_secret"],
        "AZURE_TENANT": ready["tenant_id"],
        "AZURE_CLOUD_ENVIRONMENT": ready["metadata_url"],
        "REQUESTS_CA_BUNDLE": bundle_out,
        "SSL_CERT_FILE": bundle_out,
        "HRW_ARM_ENDPOINT": ready["arm_endpoint"],
        "HRW_ADMIN_URL": ready["admin_url"],
        "HRW_RESOURCE_GROUP": ready["resource_group"],
        "HRW_AUTOMATION_ACCOUNT": ready["automation_account"],
        "HRW_LOCATION": ready.get("location", "westeurope"),
        "HRW_HYBRID_SERVICE_URL": ready.get("hybrid_service_url", ""),
    }
    for name, value in exports.items():
        print("export %s=%s" % (name, shlex.quote(str(value))))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
