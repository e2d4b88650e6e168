"""Find the Azure REST specs, index their operations, and validate bodies against them.

The specs are never copied into the repository: they live in ``shared/azure-specs`` beside the clone,
or wherever ``HRW_AZURE_SPECS`` points.
"""

import json
import os
import re
import threading
from pathlib import Path

import jsonschema

ENV_VAR = "HRW_AZURE_SPECS"

# Swagger files the emulator serves, relative to <specs>/specification, with the api-versions they describe.
AUTOMATION = "automation/resource-manager/Microsoft.Automation"
SPEC_FILES = {
    "2024-10-23": [
        f"{AUTOMATION}/Automation/stable/2024-10-23/{name}.json"
        for name in ("account", "hybridRunbookWorker", "hybridRunbookWorkerGroup", "module",
                     "python3package", "runbook", "job")
    ],
    "2023-11-01": [
        f"{AUTOMATION}/stable/2023-11-01/hybridRunbookWorker.json",
        f"{AUTOMATION}/stable/2023-11-01/hybridRunbookWorkerGroup.json",
        f"{AUTOMATION}/Automation/stable/2023-11-01/powershell72Module.json",
    ],
    "hybridcompute": [
        "hybridcompute/resource-manager/Microsoft.HybridCompute/HybridCompute/stable/2026-09-01/openapi.json",
    ],
}


class SpecsNotFound(RuntimeError):
    pass


def find_specs_root(start=None):
    """Return the azure-specs directory (the one holding ``specification/``)."""
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env)
        if (root / "specification").is_dir():
            return root
        raise SpecsNotFound(f"{ENV_VAR}={env} has no specification/ folder")
    here = Path(start or __file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "azure-specs"
        if (candidate / "specification").is_dir():
            return candidate
    raise SpecsNotFound(
        "Azure REST specs not found: set HRW_AZURE_SPECS to the azure-specs directory "
        "(the folder that contains specification/), or place it at ../shared/azure-specs beside the repository")


def _key(path, pointer):
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{path}#{pointer}")


class _Bundler:
    """Inline swagger $refs across files into one ``definitions`` map usable by jsonschema."""

    def __init__(self, spec_dir):
        self.spec_dir = spec_dir
        self.files = {}
        self.definitions = {}
        self.missing = set()  # referenced files absent from the copy: their schemas accept anything

    def load(self, path):
        wanted = path
        path = self._existing(path)
        if path is None:
            wanted = os.path.normpath(wanted)
            self.missing.add(os.path.relpath(wanted, self.spec_dir) if wanted.startswith(str(self.spec_dir)) else wanted)
            return None, None
        if path not in self.files:
            with open(path, encoding="utf-8-sig") as handle:
                self.files[path] = json.load(handle)
        return path, self.files[path]

    def _existing(self, path):
        path = Path(os.path.normpath(path))
        if path.exists():
            return path
        # Upstream moved folders; a copied file may sit in a sibling version folder or the old layout.
        parts = path.parts
        for cut in range(len(parts) - 3, 0, -1):
            tail = Path(*parts[cut:])
            base = Path(*parts[:cut])
            for anc in [base, *base.parents]:
                if len(anc.parts) < len(self.spec_dir.parts):
                    break
                hits = sorted(anc.rglob(str(tail)))
                if hits:
                    return Path(os.path.normpath(hits[0]))
            if len(tail.parts) >= 3:
                break
        return None

    def resolve_pointer(self, doc, pointer):
        node = doc
        for part in [p for p in pointer.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def ref(self, base_file, ref):
        """Return (file, pointer) of a $ref seen in base_file."""
        file_part, _, pointer = ref.partition("#")
        target = Path(base_file).parent / file_part if file_part else Path(base_file)
        path, _ = self.load(target)
        return path, pointer  # path None: file not in the copy

    def deref(self, base_file, node):
        """Follow a top-level $ref (for parameters/responses); returns (file, node)."""
        while isinstance(node, dict) and "$ref" in node:
            path, pointer = self.ref(base_file, node["$ref"])
            if path is None:
                return base_file, {}
            base_file, node = path, self.resolve_pointer(self.files[path], pointer)
        return base_file, node

    def schema(self, base_file, node):
        """Rewrite a schema so every $ref points into self.definitions."""
        if isinstance(node, list):
            return [self.schema(base_file, item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            path, pointer = self.ref(base_file, node["$ref"])
            if path is None:
                return {}
            key = _key(path.relative_to(self.spec_dir), pointer)
            if key not in self.definitions:
                self.definitions[key] = {}
                target = self.resolve_pointer(self.files[path], pointer)
                self.definitions[key] = self.schema(path, target)
            return {"$ref": f"#/definitions/{key}"}
        out = {}
        for name, value in node.items():
            if name in ("x-ms-examples", "example", "examples", "description"):
                continue
            if name == "properties" and isinstance(value, dict):
                out[name] = {prop: self.schema(base_file, sub) for prop, sub in value.items()}
            else:
                out[name] = self.schema(base_file, value)
        if "type" not in out and ("properties" in out or "additionalProperties" in out) and "$ref" not in out:
            out["type"] = "object"  # swagger often leaves it implicit
        if out.get("type") == "file":
            del out["type"]
        if node.get("x-nullable") and "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"] + ["null"]
        return out


class Operation:
    def __init__(self, method, template, operation_id, api_version, regex, body_schema, responses):
        self.method = method
        self.template = template
        self.operation_id = operation_id
        self.api_version = api_version
        self.regex = regex
        self.body_schema = body_schema
        self.responses = responses  # status -> schema or None ("default" included)


def _template_regex(template):
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            pattern += f"(?P<{piece[1:-1]}>[^/]+)"
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}$", re.IGNORECASE)


class SpecIndex:
    """Operations of the served swagger files, with validators for request and response bodies."""

    def __init__(self, root=None):
        self.root = Path(root) if root else find_specs_root()
        self.spec_dir = self.root / "specification"
        self.bundler = _Bundler(self.spec_dir)
        self.operations = []  # list of Operation
        self.by_id = {}  # (group, operationId) -> Operation
        self.example_refs = {}  # example file name -> (group, operationId)
        for group, files in SPEC_FILES.items():
            for rel in files:
                self._index(group, self.spec_dir / rel)
        self._validators = {}
        self._lock = threading.Lock()

    def _index(self, group, path):
        path, doc = self.bundler.load(path)
        for template, ops in doc.get("paths", {}).items():
            shared = ops.get("parameters", [])
            for method, op in ops.items():
                if method == "parameters":
                    continue
                body_schema = None
                for param in shared + op.get("parameters", []):
                    pfile, param = self.bundler.deref(path, param)
                    if param.get("in") == "body":
                        body_schema = self.bundler.schema(pfile, param.get("schema", {}))
                responses = {}
                for status, resp in op.get("responses", {}).items():
                    rfile, resp = self.bundler.deref(path, resp)
                    responses[status] = self.bundler.schema(rfile, resp["schema"]) if "schema" in resp else None
                operation = Operation(method.upper(), template, op["operationId"], group,
                                      _template_regex(template), body_schema, responses)
                self.operations.append(operation)
                self.by_id[(group, op["operationId"])] = operation
                for example in op.get("x-ms-examples", {}).values():
                    self.example_refs.setdefault(os.path.basename(example["$ref"]), (group, op["operationId"]))

    def find(self, group, method, path):
        for operation in self.operations:
            if operation.api_version == group and operation.method == method:
                match = operation.regex.match(path)
                if match:
                    return operation, match.groupdict()
        return None, None

    def _validator(self, schema):
        key = id(schema)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                full = dict(schema)
                full["definitions"] = self.bundler.definitions
                validator = jsonschema.Draft4Validator(full)
                self._validators[key] = (validator, schema)
            else:
                validator = validator[0]
        return validator

    def errors(self, schema, instance):
        """Return a list of readable validation errors (empty when valid)."""
        if schema is None:
            return []
        found = []
        for error in self._validator(schema).iter_errors(instance):
            where = "/".join(str(p) for p in error.absolute_path) or "<body>"
            found.append(f"{where}: {error.message}")
        return found

    def response_schema(self, operation, status):
        if str(status) in operation.responses:
            return operation.responses[str(status)], True
        return operation.responses.get("default"), False

    def example_files(self):
        """All example files of the automation specs: (path, group, operationId or None)."""
        base = self.spec_dir / AUTOMATION
        for path in sorted(base.rglob("examples/**/*.json")):
            yield path, *self.example_refs.get(path.name, (None, None))
