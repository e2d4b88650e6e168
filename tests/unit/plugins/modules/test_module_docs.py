# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module documentation that no sanity test checks without a base branch: version_added against the collection version."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import glob
import os

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def release(text):
    return tuple(int(p) for p in str(text).split('.'))


def documentation(path):
    with open(path) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'DOCUMENTATION' for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError('%s has no DOCUMENTATION' % path)


MODULES = sorted(glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))


@pytest.mark.parametrize('path', MODULES, ids=[os.path.basename(p) for p in MODULES])
def test_version_added_is_not_after_the_collection_version(path):
    """A module cannot be added in a release after the one galaxy.yml builds (nothing is released yet: all are in it)."""
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        collection = release(yaml.safe_load(handle)['version'])
    added = documentation(path)['version_added']
    assert release(added) <= collection, '%s: version_added %s is after the collection version %s' % (
        os.path.basename(path), added, '.'.join(map(str, collection)))
