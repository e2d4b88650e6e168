"""Index the operations of the compact API schema and validate request and response bodies against it.

The compact schema (``schema/<provider>-<api-version>.json`` beside this file) holds derived facts of the official
Azure REST specs only; ``tests/emulator/tools/compact_schema.py`` regenerates it from the swaggers, which stay outside
the repository. The emulator never reads the swaggers.

Checks, like Microsoft's traffic validator (oav):
* request bodies: types, required (read-only properties are never required), enums, patterns, lengths, min/max;
  read-only properties are ignored (removed before the handler sees the body, as ARM does);
* response bodies: the same, plus no property the schema does not list (where it gives no ``additionalProperties``)
  and no secret (``x-ms-secret``) property; read-only properties are expected there.
"""

import json
import re
import threading
from pathlib import Path

import jsonschema

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"


class SpecsNotFound(RuntimeError):
    pass


class Schema:
    """A schema of one operation body, with the definitions of its file and the direction it is checked in."""

    __slots__ = ("root", "source", "mode")

    def __init__(self, root, source, mode):
        self.root, self.source, self.mode = root, source, mode


class Operation:
    def __init__(self, provider, api_version, data, source):
        self.provider = provider
        self.api_version = api_version
        self.method = data["method"]
        self.template = data["path"]
        self.operation_id = data["operationId"]
        self.regex = _template_regex(self.template)
        self.parameters = data["parameters"]
        body = data.get("body")
        self.body_schema = Schema(body["schema"], source, "request") if body else None
        self.body_required = bool(body and body["required"])
        self.responses = {status: (Schema(schema, source, "response") if schema is not None else None)
                          for status, schema in data["responses"].items()}
        self.long_running = bool(data.get("long_running"))


def _template_regex(template):
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            pattern += f"(?P<{re.sub(r'[^A-Za-z0-9_]', '_', piece[1:-1])}>[^/]+)"
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}$", re.IGNORECASE)


def _secret(validator, value, instance, schema):
    if value:
        yield jsonschema.ValidationError("is a secret (x-ms-secret) and must never be returned in a response")


# Draft 4 plus x-ms-secret (checked only in response schemas: request schemas have the keyword removed).
_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"x-ms-secret": _secret})


def _prepare(node, mode):
    """Turn a compact schema node into a JSON Schema (Draft 4) for one direction."""
    if isinstance(node, list):
        return [_prepare(item, mode) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _prepare(sub, mode) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _prepare(value, mode)
        elif key == "x-ms-secret" and mode != "response":
            continue
        else:
            out[key] = value
    if mode == "request" and "required" in out:
        props = node.get("properties", {})
        out["required"] = [r for r in out["required"] if not props.get(r, {}).get("readOnly")]
        if not out["required"]:
            del out["required"]
    if (mode == "response" and "properties" in out and "additionalProperties" not in out
            and "discriminator" not in out):
        out["additionalProperties"] = False
    if node.get("x-nullable") and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    if "$ref" in out:
        # Draft 4 ignores a $ref's siblings: keep what they say about this use of the type.
        extra = {key: out.pop(key) for key in list(out) if key != "$ref"}
        if node.get("x-nullable"):
            return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        if extra.get("x-ms-secret") and mode == "response":
            return {"allOf": [{"$ref": out["$ref"]}, {"x-ms-secret": True}]}
    return out


class SpecIndex:
    """Operations of the compact schema files, with validators for request and response bodies."""

    def __init__(self, schema_dir=None):
        self.schema_dir = Path(schema_dir or SCHEMA_DIR)
        files = sorted(self.schema_dir.glob("*.json"))
        if not files:
            raise SpecsNotFound(f"compact API schema not found in {self.schema_dir}: regenerate it with "
                                "tests/emulator/tools/compact_schema.py")
        self.files = {}  # source name -> parsed compact file
        self.operations = []
        self.by_id = {}  # (api_version, operationId) -> Operation; also (provider, api_version, operationId)
        self.versions = {}  # provider (lower case) -> api-versions with a schema, newest first
        for path in files:
            data = json.loads(path.read_text(encoding="utf-8"))
            provider, version = data["provider"].lower(), data["api_version"]
            self.files[path.name] = data
            self.versions.setdefault(provider, []).append(version)
            for item in data["operations"]:
                operation = Operation(provider, version, item, path.name)
                self.operations.append(operation)
                self.by_id.setdefault((version, operation.operation_id), operation)
                self.by_id[(provider, version, operation.operation_id)] = operation
        for versions in self.versions.values():
            versions.sort(reverse=True)
        self._validators = {}
        self._definitions = {}
        self._lock = threading.Lock()

    def sources(self):
        """Provenance of every compact file: {file name: [{path, sha256, ...}]}."""
        return {name: data["sources"] for name, data in sorted(self.files.items())}

    def schema_version(self, provider, api_version):
        """The api-version whose schema checks a call: the same one if there is a schema for it, else the newest."""
        versions = self.versions.get(provider.lower())
        if not versions:
            return None
        return api_version if api_version in versions else versions[0]

    def find(self, provider, api_version, method, path):
        for operation in self.operations:
            if operation.provider == provider.lower() and operation.api_version == api_version and operation.method == method:
                match = operation.regex.match(path)
                if match:
                    return operation, match.groupdict()
        return None, None

    def _validator(self, schema):
        key = (id(schema.root), schema.mode)
        with self._lock:
            found = self._validators.get(key)
            if found is None:
                dkey = (schema.source, schema.mode)
                if dkey not in self._definitions:
                    self._definitions[dkey] = {name: _prepare(d, schema.mode)
                                               for name, d in self.files[schema.source]["definitions"].items()}
                full = _prepare(schema.root, schema.mode)
                full["definitions"] = self._definitions[dkey]
                found = (_Validator(full), schema)  # keep schema alive: its id() is the key
                self._validators[key] = found
        return found[0]

    def errors(self, schema, instance):
        """Readable validation errors (empty when valid)."""
        if schema is None:
            return []
        found = []
        for error in sorted(self._validator(schema).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
            where = "/".join(str(p) for p in error.absolute_path) or "<body>"
            found.append(f"{where}: {error.message}")
        return found

    def _resolve(self, schema, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.files[schema.source]["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        return node if isinstance(node, dict) else {}

    def strip_read_only(self, schema, body):
        """The request body without its read-only properties (ARM ignores them; the handler never sees them)."""
        if schema is None:
            return body
        return self._strip(schema, schema.root, body, 0)

    def _strip(self, schema, node, value, depth):
        node = self._resolve(schema, node)
        if depth > 32:
            return value
        if isinstance(value, dict):
            props = node.get("properties", {})
            extra = node.get("additionalProperties")
            out = {}
            for key, item in value.items():
                if key in props and props[key].get("readOnly"):
                    continue
                sub = self._resolve(schema, props[key]) if key in props else None
                if sub is not None and sub.get("readOnly"):
                    continue
                if sub is not None:
                    out[key] = self._strip(schema, sub, item, depth + 1)
                elif isinstance(extra, dict):
                    out[key] = self._strip(schema, extra, item, depth + 1)
                else:
                    out[key] = item
            return out
        if isinstance(value, list) and "items" in node:
            return [self._strip(schema, node["items"], item, depth + 1) for item in value]
        return value

    def read_only_paths(self, schema, body):
        """Where a request body carries read-only properties (for tests and logs)."""
        stripped = self.strip_read_only(schema, body)
        return sorted(_diff_paths(body, stripped))

    def enum_of(self, provider, api_version, operation_id, status, names):
        """The enum of a property of an operation's answer (names: the property path), or None if it has none."""
        version = self.schema_version(provider, api_version)
        operation = self.by_id.get((provider.lower(), version, operation_id))
        schema = operation.responses.get(status) if operation else None
        if schema is None:
            return None
        node = self._resolve(schema, schema.root)
        for name in names:
            node = self._resolve(schema, node.get("properties", {}).get(name, {}))
        return node.get("enum")

    def response_schema(self, operation, status):
        if str(status) in operation.responses:
            return operation.responses[str(status)], True
        return operation.responses.get("default"), False


def _diff_paths(full, stripped, where=""):
    if isinstance(full, dict) and isinstance(stripped, dict):
        for key, value in full.items():
            here = f"{where}/{key}" if where else key
            if key not in stripped:
                yield here
            else:
                yield from _diff_paths(value, stripped[key], here)
    elif isinstance(full, list) and isinstance(stripped, list):
        for index, (a, b) in enumerate(zip(full, stripped)):
            yield from _diff_paths(a, b, f"{where}/{index}")
