"""A small OData ``$filter`` evaluator: eq/ne, startswith(), contains(), joined by and/or."""

import re

from .errors import bad_request

_CLAUSE = re.compile(r"^\s*(?P<field>[\w/]+)\s+(?P<op>eq|ne)\s+'(?P<value>(?:[^']|'')*)'\s*$", re.IGNORECASE)
_FUNC = re.compile(r"^\s*(?P<func>startswith|endswith|contains)\(\s*(?P<field>[\w/]+)\s*,\s*'(?P<value>(?:[^']|'')*)'\s*\)\s*$",
                   re.IGNORECASE)


def _field(item, path):
    node = item
    for part in path.split("/"):
        if not isinstance(node, dict):
            return None
        # OData field names are case-sensitive in Azure, but be lenient like ARM ids.
        match = next((k for k in node if k.lower() == part.lower()), None)
        node = node.get(match) if match else None
    return node


def _clause(text):
    match = _CLAUSE.match(text)
    if match:
        field, op, value = match["field"], match["op"].lower(), match["value"].replace("''", "'").lower()
        if op == "eq":
            return lambda item: str(_field(item, field) or "").lower() == value
        return lambda item: str(_field(item, field) or "").lower() != value
    match = _FUNC.match(text)
    if match:
        field, func, value = match["field"], match["func"].lower(), match["value"].replace("''", "'").lower()
        tests = {"startswith": str.startswith, "endswith": str.endswith, "contains": str.__contains__}
        return lambda item: tests[func](str(_field(item, field) or "").lower(), value)
    raise bad_request(f"Invalid $filter clause: '{text.strip()}'. Supported: <field> eq|ne '<value>', "
                      "startswith/endswith/contains(<field>, '<value>'), joined by 'and' / 'or'.")


def compile_filter(text):
    """Return a predicate for items (resource bodies); None when there is no filter."""
    if not text or not text.strip():
        return None
    alternatives = []
    for part in re.split(r"\s+or\s+", text, flags=re.IGNORECASE):
        clauses = [_clause(c) for c in re.split(r"\s+and\s+", part, flags=re.IGNORECASE)]
        alternatives.append(clauses)
    return lambda item: any(all(c(item) for c in clauses) for clauses in alternatives)
