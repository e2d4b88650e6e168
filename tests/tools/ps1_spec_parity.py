#!/usr/bin/env python3
"""Each PowerShell module's Ansible.Basic spec must say what its .py twin documents.

A `plugins/modules/X.ps1` is documented by `plugins/modules/X.py`. This compares, option by option and through
suboptions, the `$spec` hashtable literal of the .ps1 (read from the tree-sitter tree, with variables and the simple
functions of the required module_utils evaluated) with
- the .py DOCUMENTATION options: names, type, default, choices, required, elements, aliases;
- the .py `argument_spec` literal, when the .py has one (it is the other implementation): the same fields and no_log,
  which DOCUMENTATION cannot carry;
- `supports_check_mode` against DOCUMENTATION's `attributes.check_mode.support` when that is given.
A value that cannot be evaluated statically is named in a note and not compared. Mismatches print as
`path:line:col: message` and exit 1.

Usage: ps1_spec_parity.py [MODULES_DIR|FILE.ps1 ...]   (default: plugins/modules)
"""

import ast
import pathlib
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import ps1_semantic_check as sem  # noqa: E402  (a script beside this one, not a package)

FIELDS = ("type", "required", "default", "choices", "elements", "aliases")
FIELD_DEFAULTS = {"type": "str", "required": False, "default": None, "choices": None, "elements": None, "aliases": None,
                  "no_log": False}
WRAPPERS = {"pipeline", "pipeline_chain", "logical_expression", "bitwise_expression", "comparison_expression",
            "additive_expression", "multiplicative_expression", "format_expression", "range_expression",
            "unary_expression", "argument_expression", "left_assignment_expression"}


class Unknown:
    """A value the static evaluator cannot compute."""

    def __init__(self, text):
        self.text = " ".join(text.split())[:80]

    def __repr__(self):
        return "<%s>" % self.text


class PSHash(dict):
    """A hashtable literal's value; `lines` gives each key's line in the .ps1."""

    def __init__(self):
        super().__init__()
        self.lines = {}


class Listed(list):
    """The value of a unary comma (`, $x`): one object, the array, kept whole when output."""


# ---------------------------------------------------------------------------------------------------- PowerShell side

class Evaluator:
    def __init__(self, parsed, functions):
        self.parsed = parsed
        self.functions = functions      # lower name -> (ParsedFile, function node)
        self.depth = 0

    def variable(self, name, parsed):
        key = name.lower()
        if key in ("$true", "$false", "$null"):
            return {"$true": True, "$false": False, "$null": None}[key]
        key = key.replace("$script:", "$")
        values = parsed.assignments.get(key) or parsed.assignments.get(key.replace("$", "$script:", 1))
        if not values or len(values) != 1:
            return Unknown(name)
        return self.value(values[0], parsed)

    def value(self, node, parsed=None):
        parsed = parsed or self.parsed
        self.depth += 1
        try:
            if self.depth > 600:
                return Unknown(sem.node_text(node))
            return self._value(node, parsed)
        finally:
            self.depth -= 1

    def _value(self, node, parsed):
        kind = node.type
        named = [c for c in node.children if c.is_named]
        if kind == "array_literal_expression":
            items = [c for c in node.children if c.is_named]
            if len(items) == 1 and not any(c.type == "," for c in node.children):
                return self.value(items[0], parsed)
            return [self.value(c, parsed) for c in items]
        if kind in WRAPPERS and len(named) == 1:
            if kind == "pipeline" and named[0].type == "pipeline_chain" and len([c for c in named[0].children if c.is_named]) > 1:
                return Unknown(sem.node_text(node))
            return self.value(named[0], parsed)
        if kind == "command" and not sem.elements(node):
            name = sem.call_name(node)
            found = self.functions.get((name or "").lower())
            if found is None:
                return Unknown(sem.node_text(node))
            owner, function = found
            body = next((c for c in function.children if c.type == "script_block"), None)
            statements = [n for n in sem.walk(body) if n.type == "statement_list"][:1] if body is not None else []
            if not statements:
                return Unknown(sem.node_text(node))
            pipelines = [c for c in statements[0].children if c.is_named]
            if len(pipelines) != 1:
                return Unknown(sem.node_text(node))
            out = self.value(pipelines[0], owner)
            # `, $x` as a function's output emits $x as one object: the caller receives the array itself.
            return out[0] if isinstance(out, Listed) and len(out) == 1 else out
        if kind == "string_literal":
            text = sem.node_text(node)
            if named and named[0].type == "expandable_string_literal" and "$" in text:
                return Unknown(text)
            if text.startswith(("@'", '@"')):
                return text[2:-2].strip("\r\n")
            inner = text[1:-1]
            return inner.replace("''", "'") if text.startswith("'") else inner
        if kind == "integer_literal":
            return int(sem.node_text(node), 0) if sem.node_text(node).lower().startswith("0x") else int(sem.node_text(node))
        if kind == "real_literal":
            return float(sem.node_text(node))
        if kind == "variable":
            return self.variable(sem.node_text(node), parsed)
        if kind == "expression_with_unary_operator":
            op = node.children[0].type
            operand = self.value(node.children[-1], parsed)
            if op == ",":
                return Listed([operand])
            if op == "-" and isinstance(operand, (int, float)):
                return -operand
            return Unknown(sem.node_text(node))
        if kind == "parenthesized_expression":
            inner = [c for c in node.children if c.is_named]
            return self.value(inner[0], parsed) if len(inner) == 1 else Unknown(sem.node_text(node))
        if kind == "array_expression":
            statements = next((c for c in node.children if c.type == "statement_list"), None)
            out = []
            for pipe in ([c for c in statements.children if c.is_named] if statements is not None else []):
                value = self.value(pipe, parsed)
                if isinstance(value, list):
                    out.extend(list(value))     # output is enumerated; a Listed gives its one element
                else:
                    out.append(value)
            return out
        if kind == "hash_literal_expression":
            body = next((c for c in node.children if c.type == "hash_literal_body"), None)
            result = PSHash()
            for entry in (c for c in (body.children if body is not None else []) if c.type == "hash_entry"):
                key_node = entry.children[0]
                key = self.value(key_node.children[0], parsed) if key_node.children and key_node.children[0].type != "simple_name" \
                    else sem.node_text(key_node)
                value_node = next((c for c in entry.children[1:] if c.is_named), None)
                result[str(key)] = self.value(value_node, parsed) if value_node is not None else None
                result.lines[str(key)] = entry.start_point[0] + 1
            return result
        return Unknown(sem.node_text(node))


def ps1_spec(path):
    """(spec dict, node of the spec literal) of a module .ps1; raises sem.Finding when there is none."""
    parsed = sem.ParsedFile.load(path)
    functions = {}
    for node in sem.walk(parsed.tree.root_node):
        if node.type == "function_statement":
            functions[next(sem.node_text(c) for c in node.children if c.type == "function_name").lower()] = (parsed, node)
    seen, todo = set(), [(parsed, k, n) for k, n in parsed.requires if k.lower() != "csharputil"]
    while todo:
        owner, kind, name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        target = sem.resolve_util(owner.path, kind, name)
        if target is None or not target.is_file():
            raise sem.Finding("%s: cannot find the util %s" % (owner.path, name))
        util = sem.ParsedFile.load(target)
        exported = util.exported()
        for node in sem.walk(util.tree.root_node):
            if node.type == "function_statement":
                fname = next(sem.node_text(c) for c in node.children if c.type == "function_name").lower()
                if fname in exported:
                    functions.setdefault(fname, (util, node))
        todo += [(util, k, n) for k, n in util.requires if k.lower() != "csharputil"]
    values = parsed.assignments.get("$spec")
    if not values:
        raise sem.Finding("%s has no `$spec = @{ options = @{ ... } }` literal" % path)
    node = values[0]
    spec = Evaluator(parsed, functions).value(node)
    if not isinstance(spec, dict) or not isinstance(spec.get("options"), dict):
        raise sem.Finding("%s: $spec is not a hashtable literal with an options hashtable (%r)" % (path, spec))
    return spec, node


# ---------------------------------------------------------------------------------------------------- Python side

class PyContext:
    """Module-level constants of a .py and of the collection's module_utils it imports (read, never imported)."""

    def __init__(self, path, tree):
        self.constants = module_constants(tree)
        self.modules = {}
        root = sem.collection_root(path.resolve())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("plugins.module_utils") and root is not None:
                for alias in node.names:
                    target = root / "plugins" / "module_utils" / (alias.name + ".py")
                    if target.is_file():
                        self.modules[alias.asname or alias.name] = module_constants(ast.parse(target.read_text()))

    def literal(self, node):
        """A Python literal, a constant it names or a list()/tuple() of one; Unknown for anything else."""
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.literal(self.constants[node.id])
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr in self.modules.get(node.value.id, {}):
            return self.literal(self.modules[node.value.id][node.attr])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "tuple") and len(node.args) == 1:
            inner = self.literal(node.args[0])
            return inner if isinstance(inner, Unknown) else list(inner)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.literal(e) for e in node.elts]
            return next((i for i in items if isinstance(i, Unknown)), items)
        try:
            return ast.literal_eval(node)
        except (ValueError, SyntaxError, TypeError):
            return Unknown(ast.unparse(node))


def module_constants(tree):
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def dict_call(node):
    """dict(a=..., b=...) or {'a': ...} as {key: value node}, None for anything else."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {k.arg: k.value for k in node.keywords if k.arg}
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        return {k.value: v for k, v in zip(node.keys, node.values)}
    return None


def py_options(node, context):
    """An argument_spec dict(...) node -> {option: {field: value, 'options': {...}}}."""
    out = {}
    for name, spec_node in (dict_call(node) or {}).items():
        fields = dict_call(spec_node)
        if fields is None:
            out[name] = Unknown(ast.unparse(spec_node))
            continue
        item = {}
        for field, value in fields.items():
            item[field] = py_options(value, context) if field == "options" else context.literal(value)
        out[name] = item
    return out


def py_module(path):
    """(DOCUMENTATION dict, argument_spec options or None, AnsibleModule keyword values) of a module .py."""
    tree = ast.parse(path.read_text(), str(path))
    context = PyContext(path, tree)
    doc = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets):
            doc = yaml.safe_load(node.value.value)
    if not isinstance(doc, dict):
        raise sem.Finding("%s has no DOCUMENTATION" % path)
    spec, kwargs = None, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "argument_spec" for t in node.targets):
            spec = py_options(node.value, context)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "AnsibleModule":
            for kw in node.keywords:
                if kw.arg == "argument_spec" and not isinstance(kw.value, ast.Name):
                    spec = py_options(kw.value, context)
                elif kw.arg:
                    kwargs[kw.arg] = context.literal(kw.value)
    return doc, spec, kwargs


def doc_options(doc, root):
    """(options, attributes) of DOCUMENTATION with our own doc fragments merged in."""
    options = dict(doc.get("options") or {})
    attributes = {}
    fragments = doc.get("extends_documentation_fragment") or []
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        parts = fragment.split(".")
        if len(parts) < 3 or root is None:
            continue
        variant = parts[3] if len(parts) > 3 else "DOCUMENTATION"
        source = root / "plugins" / "doc_fragments" / (parts[2] + ".py")
        if not source.is_file():
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variant.upper() for t in node.targets):
                data = yaml.safe_load(node.value.value) or {}
                options.update(data.get("options") or {})
                attributes.update(data.get("attributes") or {})
    attributes.update(doc.get("attributes") or {})
    return options, attributes


# ---------------------------------------------------------------------------------------------------- comparing

def normal(field, value, option_type):
    if field in ("choices", "aliases") and isinstance(value, (list, tuple)):
        return sorted(value, key=repr) if field == "aliases" else list(value)
    if field == "default" and value is not None and option_type in ("str", "path") and not isinstance(value, Unknown):
        return str(value)
    if field == "default" and option_type == "list" and isinstance(value, tuple):
        return list(value)
    return value


class Located:
    """Appends (line, text) to a list of problems."""

    def __init__(self, target, line):
        self.target = getattr(target, "target", target)
        self.line = line

    def append(self, text):
        self.target.append((self.line, text))


def compare(where, ps_options, other, other_name, fields, notes, problems):
    """Compare the .ps1 options with one reference (DOCUMENTATION or argument_spec options)."""
    for name in sorted(set(ps_options) | set(other)):
        label = "%s%s" % (where, name)
        line = getattr(ps_options, "lines", {}).get(name, getattr(ps_options, "line", None))
        problems = Located(problems, line)
        if name not in other:
            problems.append("option %s is in the .ps1 spec but not in %s; document it or remove it" % (label, other_name))
            continue
        if name not in ps_options:
            problems.append("option %s is in %s but not in the .ps1 spec; add it to $spec" % (label, other_name))
            continue
        mine, theirs = ps_options[name], other[name]
        if isinstance(mine, Unknown) or isinstance(theirs, Unknown) or not isinstance(mine, dict) or not isinstance(theirs, dict):
            notes.append("option %s not compared with %s (%r / %r)" % (label, other_name, mine, theirs))
            continue
        option_type = mine.get("type", "str")
        for field in fields:
            a = mine.get(field, FIELD_DEFAULTS[field])
            b = theirs.get(field, FIELD_DEFAULTS[field])
            if isinstance(a, Unknown) or isinstance(b, Unknown):
                notes.append("%s of option %s not compared with %s (%r / %r)" % (field, label, other_name, a, b))
                continue
            if normal(field, a, option_type) != normal(field, b, option_type):
                problems.append("option %s: %s is %r in the .ps1 spec but %r in %s" % (label, field, a, b, other_name))
        sub_mine = mine.get("options") or {}
        sub_theirs = theirs.get("suboptions" if other_name.endswith("DOCUMENTATION") else "options") or {}
        if sub_mine or sub_theirs:
            compare(label + ".", sub_mine, sub_theirs, other_name, fields, notes, problems)


def check_module(ps1):
    """(problems, notes) for one module .ps1."""
    py = ps1.with_suffix(".py")
    if not py.is_file():
        return [(None, "%s has no %s with its DOCUMENTATION" % (ps1.name, py.name))], []
    spec, node = ps1_spec(ps1)
    top = node.start_point[0] + 1
    doc, py_spec, kwargs = py_module(py)
    root = sem.collection_root(ps1.resolve())
    problems, notes = [], []
    spec["options"].line = spec.lines.get("options", top)
    documented, attributes = doc_options(doc, root)
    compare("", spec["options"], documented, py.name + " DOCUMENTATION", FIELDS, notes, problems)
    if py_spec is not None:
        compare("", spec["options"], py_spec, py.name + " argument_spec", FIELDS + ("no_log",), notes, problems)
    support = (attributes.get("check_mode") or {}).get("support")
    ps_check = bool(spec.get("supports_check_mode", False))
    if support is not None and ps_check != (support != "none"):
        problems.append((spec.lines.get("supports_check_mode", top),
                         "supports_check_mode is %s in the .ps1 spec but DOCUMENTATION says check_mode support: %s" % (ps_check, support)))
    if "supports_check_mode" in kwargs and not isinstance(kwargs["supports_check_mode"], Unknown) and bool(kwargs["supports_check_mode"]) != ps_check:
        problems.append((spec.lines.get("supports_check_mode", top),
                         "supports_check_mode is %s in the .ps1 spec but %s in %s" % (ps_check, kwargs["supports_check_mode"], py.name)))
    for rule in ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by"):
        if rule in kwargs or rule in spec:
            a = spec.get(rule) or []
            b = kwargs.get(rule) or []
            if isinstance(a, Unknown) or isinstance(b, Unknown):
                notes.append("%s not compared (%r / %r)" % (rule, a, b))
            elif sorted(sorted(map(str, x)) for x in a) != sorted(sorted(map(str, x)) for x in b):
                problems.append((spec.lines.get(rule, top), "%s is %r in the .ps1 spec but %r in %s" % (rule, a, b, py.name)))
    return problems, notes


def iter_modules(args):
    roots = [pathlib.Path(a) for a in args] or [pathlib.Path("plugins") / "modules"]
    for root in roots:
        if root.is_file() and root.suffix.lower() == ".ps1":
            yield root
        elif root.is_dir():
            yield from sorted(root.glob("*.ps1"))


def main(argv):
    checked = bad = 0
    for ps1 in iter_modules(argv):
        checked += 1
        try:
            problems, notes = check_module(ps1)
        except sem.Finding as exc:
            problems, notes = [(None, str(exc))], []
        except (OSError, SyntaxError, yaml.YAMLError) as exc:
            problems, notes = [(None, "cannot read %s or its .py: %s" % (ps1, exc))], []
        for note in notes:
            print("%s: note: %s" % (ps1, note))
        for line, problem in problems:
            print("%s:%d: %s" % (ps1, line or 1, problem))
        bad += bool(problems)
    print("ps1 spec parity: %d module(s) checked against their .py DOCUMENTATION and argument_spec, %d with mismatches" % (checked, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
