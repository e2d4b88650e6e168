# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an on-host module's main() in-process and return the JSON it printed (hrw_health / hrw_modules tests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import contextlib
import hashlib
import json
import os
import zipfile

import pytest

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


def run_module(main, capsys, args, check_mode=False, diff=False):
    """(rc, result) of ``main()`` with ``args``; rc 0 = exit_json, 1 = fail_json."""
    args = dict(args)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    capsys.readouterr()
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


def make_wheel(folder, name, version):
    """Write a minimal pure-Python wheel ``<name>-<version>-py3-none-any.whl``; return its path."""
    module = name.replace('-', '_')
    dist = '%s-%s.dist-info' % (module, version)
    files = {
        '%s/__init__.py' % module: '__version__ = %r\n' % version,
        dist + '/METADATA': 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' % (name, version),
        dist + '/WHEEL': 'Wheel-Version: 1.0\nGenerator: hrw-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()
        record.append('%s,sha256=%s,%d' % (path, digest, len(text.encode())))
    files[dist + '/RECORD'] = '\n'.join(record + [dist + '/RECORD,,']) + '\n'
    path = os.path.join(str(folder), '%s-%s-py3-none-any.whl' % (module, version))
    with zipfile.ZipFile(path, 'w') as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path
