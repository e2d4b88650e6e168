#!/usr/bin/env python3
"""Parse-check every PowerShell file of the collection with tree-sitter-powershell.

pwsh cannot be installed on our CI machines, so this is the syntax gate for `.ps1`/`.psm1`/`.psd1` files:
every ERROR or MISSING node is reported as `path:line:col: message` and the exit code is 1.
It checks syntax only (not cmdlet names, the Ansible.Basic spec or runtime behaviour).

Usage: ps1_parse_check.py [PATH ...]   (default: every PowerShell file under plugins/ and roles/)
"""

import pathlib
import sys

import tree_sitter
import tree_sitter_powershell

SUFFIXES = (".ps1", ".psm1", ".psd1")
DEFAULT_ROOTS = ("plugins", "roles", "tests/integration")


def iter_files(args, suffixes=SUFFIXES):
    """The files named in ``args`` and the PowerShell files (by ``suffixes``) below the folders named; DEFAULT_ROOTS if none."""
    roots = [pathlib.Path(a) for a in args] or [pathlib.Path(r) for r in DEFAULT_ROOTS]
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes)


def problems(tree):
    """Yield (node, message) for every syntax error in the tree."""
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            yield node, "missing '%s'" % node.type
        elif node.is_error:
            yield node, "syntax error"
        elif node.has_error:
            stack.extend(reversed(node.children))


def main(argv):
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    checked = failed = 0
    for path in iter_files(argv):
        checked += 1
        tree = parser.parse(path.read_bytes())
        found = list(problems(tree))
        if found:
            failed += 1
        for node, message in found:
            row, col = node.start_point
            text = node.text.decode("utf-8", "replace").splitlines()[0][:60] if node.text else ""
            print("%s:%d:%d: %s near %r" % (path, row + 1, col + 1, message, text))
    print("ps1 parse check: %d file(s) checked, %d with syntax errors" % (checked, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
