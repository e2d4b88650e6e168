# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Native programs in the Windows host modules: stderr must not terminate them.

Ansible runs PowerShell modules with $ErrorActionPreference = 'Stop'. Windows PowerShell 5.1 turns every stderr line of a
native program whose stderr is redirected (2>&1) into an error record, so under 'Stop' the first warning pip prints
throws. Every function that runs a program with 2>&1 must therefore set $ErrorActionPreference = 'Continue' before it
(function scope) and decide on the exit code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
POWERSHELL_FILES = sorted(glob.glob(os.path.join(ROOT, 'plugins', '*', '*.ps*1')))
_CONTINUE = re.compile(r"^\$ErrorActionPreference\s*=\s*['\"](Continue|SilentlyContinue)['\"]", re.IGNORECASE)


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def unguarded_redirections(source):
    """(function name, line) of each `& program ... 2>&1` not preceded, in its function, by $ErrorActionPreference = 'Continue'."""
    tree_sitter = pytest.importorskip('tree_sitter')
    grammar = pytest.importorskip('tree_sitter_powershell')
    tree = tree_sitter.Parser(tree_sitter.Language(grammar.language())).parse(source)

    def text(node):
        return source[node.start_byte:node.end_byte].decode()

    found = []
    for function in (n for n in _walk(tree.root_node) if n.type == 'function_statement'):
        name = text([c for c in function.children if c.type == 'function_name'][0])
        guards = [n.start_byte for n in _walk(function) if n.type == 'assignment_expression' and _CONTINUE.match(text(n))]
        for command in (n for n in _walk(function) if n.type == 'command'):
            if not any(c.type == 'command_invokation_operator' for c in command.children):
                continue
            redirects = [n for n in _walk(command) if n.type == 'redirection' and text(n).replace(' ', '') == '2>&1']
            if redirects and not any(g < command.start_byte for g in guards):
                found.append((name, command.start_point[0] + 1))
    return found


@pytest.mark.parametrize('path', POWERSHELL_FILES, ids=[os.path.basename(p) for p in POWERSHELL_FILES])
def test_native_programs_with_redirected_stderr_do_not_run_under_stop(path):
    with open(path, 'rb') as handle:
        assert unguarded_redirections(handle.read()) == []


def test_the_check_sees_an_unguarded_redirection():
    bad = b"Function Get-Thing {\n    param($P)\n    $out = & $P --version 2>&1 | Out-String\n    $out\n}\n"
    good = b"Function Get-Thing {\n    param($P)\n    $ErrorActionPreference = 'Continue'\n    $out = & $P --version 2>&1 | Out-String\n}\n"
    assert unguarded_redirections(bad) == [('Get-Thing', 3)]
    assert unguarded_redirections(good) == []
