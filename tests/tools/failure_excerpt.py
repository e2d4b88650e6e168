#!/usr/bin/env python3
"""Print the lines of a gate's log that say *why* it failed.

A failing gate's log can be thousands of lines (Molecule runs Ansible at -vvv), and its tail usually shows the
clean-up that ran after the failure, not the failure. This picks out, in order:

- Ansible: each ``fatal:`` / ``failed:`` result with the task it belongs to and the ``msg`` of its JSON result;
- pytest: ``FAILED``/``ERROR`` summary lines and assertion lines (``E   ...``);
- anything else that looks like an error line (``ERROR``, ``Traceback``, ``error:``).

Usage: failure_excerpt.py LOG [--max N]   (N excerpts at most, default 12; each line cut at 400 characters)
"""

import argparse
import json
import re
import sys

WIDTH = 400
TASK = re.compile(r'^(TASK|RUNNING HANDLER) \[(?P<name>.*)\]')
RESULT = re.compile(r'^(?P<kind>fatal|failed): \[(?P<host>[^\]]+)\](?P<rest>.*)$')
PYTEST = re.compile(r'^(FAILED|ERROR) \S|^E {3}')
GENERIC = re.compile(r'^(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|\berror: ', re.IGNORECASE)


def cut(text):
    text = text.rstrip()
    return text if len(text) <= WIDTH else text[:WIDTH] + ' ...'


def _json_block(lines, start):
    """(result, index of its last line) for the JSON object after '=> ' on lines[start]; (None, start) if none."""
    first = lines[start].split('=> ', 1)
    if len(first) != 2:
        return None, start
    buf = first[1]
    i = start
    while True:
        try:
            return json.loads(buf), i
        except ValueError:
            i += 1
            if i >= len(lines) or i - start > 4000:
                return None, start
            buf += '\n' + lines[i]


def _result_summary(result):
    if not isinstance(result, dict):
        return ''
    parts = []
    for key in ('msg', 'module_stderr', 'stderr', 'reason'):
        value = result.get(key)
        if value:
            parts.append('%s=%s' % (key, ' '.join(str(value).split())))
    failed_items = [r for r in result.get('results', []) if isinstance(r, dict) and r.get('failed')]
    for item in failed_items[:3]:
        parts.append('item: ' + _result_summary(item))
    return '; '.join(parts)


def excerpts(lines):
    task = None
    out = []
    for i, line in enumerate(lines):
        m = TASK.match(line)
        if m:
            task = m.group('name')
            continue
        m = RESULT.match(line)
        if m and ('FAILED!' in line or 'UNREACHABLE!' in line or m.group('kind') == 'failed'):
            result, end = _json_block(lines, i)
            if '...ignoring' in ''.join(lines[end + 1:end + 2]):
                continue
            detail = _result_summary(result) or m.group('rest').strip()
            out.append('task [%s] host %s: %s' % (task, m.group('host'), detail))
            continue
        if PYTEST.match(line) or GENERIC.search(line):
            out.append(line.strip())
    # Drop repeats, keep order.
    seen = set()
    unique = []
    for text in out:
        if text not in seen:
            seen.add(text)
            unique.append(text)
    return unique


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('log')
    parser.add_argument('--max', type=int, default=12)
    args = parser.parse_args(argv)
    with open(args.log, encoding='utf-8', errors='replace') as handle:
        lines = handle.read().splitlines()
    found = excerpts(lines)
    for text in found[:args.max]:
        print(cut(text))
    if len(found) > args.max:
        print('... %d more' % (len(found) - args.max))
    return 0


if __name__ == '__main__':
    sys.exit(main())
