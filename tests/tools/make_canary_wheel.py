"""Write a tiny, valid wheel `hrw_canary-<version>-py3-none-any.whl` for offline package tests on lab hosts.

Usage: python3 tests/tools/make_canary_wheel.py OUT_DIR [VERSION]   (prints the wheel's path)

The wheel holds one module, `hrw_canary`, whose VERSION is the given version, so a test can install it with hrw_modules
from a local file (no index), import it as the worker's user and remove it again.
"""

import base64
import hashlib
import pathlib
import sys
import zipfile

NAME = "hrw_canary"


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def build(out_dir, version):
    dist_info = "%s-%s.dist-info" % (NAME, version)
    files = {
        "%s/__init__.py" % NAME: ('"""Canary package of the azure_automation.hybrid_worker lab tests."""\nVERSION = "%s"\n' % version).encode(),
        "%s/METADATA" % dist_info: ("Metadata-Version: 2.1\nName: hrw-canary\nVersion: %s\n"
                                    "Summary: Canary package of the azure_automation.hybrid_worker lab tests\n" % version).encode(),
        "%s/WHEEL" % dist_info: b"Wheel-Version: 1.0\nGenerator: make_canary_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join(record_line(path, data) for path, data in files.items()) + "\n%s/RECORD,,\n" % dist_info
    files["%s/RECORD" % dist_info] = record.encode()
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / ("%s-%s-py3-none-any.whl" % (NAME, version))
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return wheel


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    print(build(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "1.0.0"))
