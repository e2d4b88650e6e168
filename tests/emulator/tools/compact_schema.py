#!/usr/bin/env python3
"""Derive the emulator's compact API schema from the official Azure REST swaggers.

The swaggers (Azure/azure-rest-api-specs, laid out as upstream's ``specification/`` tree) stay outside the repository.
This script reads them and writes, per provider and api-version, one JSON file of derived facts only: paths,
operations, parameters, property names, types, required, enums, read-only, secrets, patterns, lengths, min/max and
additionalProperties. Descriptions, examples and x-ms-examples are dropped; every $ref (across files too) is resolved into
a self-contained ``definitions`` map and allOf is merged into the definition that uses it. Output is deterministic
(sorted keys), so a regenerated copy can be diffed against the committed one.

    python tests/emulator/tools/compact_schema.py                 # specs from HRW_AZURE_SPECS or ../shared/azure-specs
    python tests/emulator/tools/compact_schema.py --specs DIR ... # one or more roots, each holding specification/
    python tests/emulator/tools/compact_schema.py --check         # exit 1 when a committed file is out of date

A compact file is only (re)generated when all its source files are found; the others are reported and left alone.
"""

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

ENV_VAR = "HRW_AZURE_SPECS"
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "hrw_emulator" / "schema"
GENERATOR = "tests/emulator/tools/compact_schema.py"

AUTOMATION = "automation/resource-manager/Microsoft.Automation"
HYBRIDCOMPUTE = "hybridcompute/resource-manager/Microsoft.HybridCompute"
COMPUTE = "compute/resource-manager/Microsoft.Compute"
# Only the machine and extension paths of the big HybridCompute/Compute swaggers are served by the emulator.
MACHINE_PATHS = r"/Microsoft\.HybridCompute/machines(/\{machineName\}(/extensions(/\{extensionName\})?)?)?$"
VM_PATHS = r"/Microsoft\.Compute/virtualMachines(/\{vmName\}(/extensions(/\{vmExtensionName\})?)?)?$"

# What is compacted: provider, api-version, swagger files (relative to specification/), optional path filter, and where
# upstream keeps the files (for the provenance record; the sha256 is computed from the file read).
OUTPUTS = [
    {"provider": "Microsoft.Automation", "api_version": "2024-10-23",
     "files": [f"{AUTOMATION}/Automation/stable/2024-10-23/{name}.json"
               for name in ("account", "hybridRunbookWorker", "hybridRunbookWorkerGroup", "job", "module",
                            "python3package", "runbook")]},
    {"provider": "Microsoft.Automation", "api_version": "2023-11-01",
     "files": [f"{AUTOMATION}/stable/2023-11-01/hybridRunbookWorker.json",
               f"{AUTOMATION}/stable/2023-11-01/hybridRunbookWorkerGroup.json",
               f"{AUTOMATION}/Automation/stable/2023-11-01/powershell72Module.json"]},
    {"provider": "Microsoft.HybridCompute", "api_version": "2026-09-01",
     "files": [f"{HYBRIDCOMPUTE}/HybridCompute/stable/2026-09-01/openapi.json"], "paths": MACHINE_PATHS},
    {"provider": "Microsoft.HybridCompute", "api_version": "2024-07-10",
     "files": [f"{HYBRIDCOMPUTE}/stable/2024-07-10/HybridCompute.json"], "paths": MACHINE_PATHS},
    {"provider": "Microsoft.Compute", "api_version": "2024-07-01",
     "files": [f"{COMPUTE}/ComputeRP/stable/2024-07-01/virtualMachine.json"], "paths": VM_PATHS},
]

# Schema keywords kept (facts). Everything else (description, example(s), x-ms-examples, title, x-ms-client-name,
# default, ...) is dropped.
KEEP = {"type", "format", "enum", "readOnly", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "x-nullable", "x-ms-secret", "discriminator",
        "x-ms-discriminator-value"}
PARAM_KEEP = KEEP | {"name", "in", "required"}
REF_SIBLINGS = ("readOnly", "x-nullable", "x-ms-secret")
METHODS = ("get", "put", "post", "patch", "delete", "head")
PROVENANCE = ("upstream_commit", "upstream_note")  # recorded by hand (--commit, --note), kept across regenerations


class SourceMissing(Exception):
    pass


def default_roots(start=None):
    """Spec roots: HRW_AZURE_SPECS (os.pathsep-separated), else the first shared/azure-specs above this file."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    here = Path(start or __file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "azure-specs"
        if (candidate / "specification").is_dir():
            return [candidate]
    return []


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Compactor:
    """Resolve the swaggers of one output into operations plus self-contained definitions."""

    def __init__(self, roots):
        self.roots = [Path(r) / "specification" for r in roots]
        self.docs = {}  # absolute path -> parsed JSON
        self.missing = set()  # referenced files absent from every root (their schemas accept anything)
        self.missing_refs = set()  # definitions a present file lacks (likewise)
        self.names = {}  # (file, pointer) -> definition key
        self.taken = {}  # definition key -> (file, pointer)
        self.definitions = {}

    # ---- files ----------------------------------------------------------------------------------------------------
    def locate(self, rel):
        for root in self.roots:
            if (root / rel).is_file():
                return root, root / rel
        raise SourceMissing(rel)

    def load(self, path):
        path = Path(os.path.normpath(path))
        if path not in self.docs:
            with open(path, encoding="utf-8-sig") as handle:
                self.docs[path] = json.load(handle)
        return self.docs[path]

    def _existing(self, path, spec_dir):
        path = Path(os.path.normpath(path))
        if path.exists():
            return path
        # Upstream moved folders; a copied file may sit in a sibling version folder or the old layout.
        parts = path.parts
        for cut in range(len(parts) - 3, 0, -1):
            tail = Path(*parts[cut:])
            base = Path(*parts[:cut])
            for anc in [base, *base.parents]:
                if len(anc.parts) < len(spec_dir.parts):
                    break
                hits = sorted(anc.rglob(str(tail)))
                if hits:
                    return Path(os.path.normpath(hits[0]))
            if len(tail.parts) >= 3:
                break
        return None

    def spec_dir_of(self, path):
        return next(root for root in self.roots if Path(path).is_relative_to(root))

    def rel(self, path):
        return Path(path).relative_to(self.spec_dir_of(path)).as_posix()

    def ref(self, base_file, ref):
        """(file, pointer) of a $ref seen in base_file; file None when it is absent from the copy."""
        file_part, _, pointer = ref.partition("#")
        if not file_part:
            return Path(base_file), pointer
        wanted = Path(base_file).parent / file_part
        spec_dir = self.spec_dir_of(base_file)
        found = self._existing(wanted, spec_dir)
        if found is None:
            self.missing.add(os.path.relpath(os.path.normpath(wanted), spec_dir))
            return None, pointer
        return found, pointer

    def node(self, path, pointer):
        node = self.load(path)
        for part in [p for p in pointer.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def deref(self, base_file, node):
        """Follow top-level $refs (parameters, responses): (file, node)."""
        while isinstance(node, dict) and "$ref" in node:
            path, pointer = self.ref(base_file, node["$ref"])
            if path is None:
                return base_file, {}
            base_file, node = path, self.node(path, pointer)
        return base_file, node

    # ---- schemas --------------------------------------------------------------------------------------------------
    def key_for(self, path, pointer):
        ident = (self.rel(path), pointer)
        if ident in self.names:
            return self.names[ident], False
        base = pointer.rsplit("/", 1)[-1] or Path(path).stem
        key = base
        if key in self.taken:
            # Same name in another file (ErrorResponse of v2 and v5 common types, ...): qualify with the file.
            qualifier = re.sub(r"[^A-Za-z0-9]+", "_", Path(ident[0]).parent.name + "_" + Path(ident[0]).stem)
            key = f"{base}.{qualifier}"
            n = 2
            while key in self.taken:
                key, n = f"{base}.{qualifier}.{n}", n + 1
        self.names[ident] = key
        self.taken[key] = ident
        return key, True

    def schema(self, base_file, node):
        """A compact, self-contained schema: $refs point into self.definitions, allOf merged."""
        if not isinstance(node, dict):
            return {}
        if "$ref" in node:
            path, pointer = self.ref(base_file, node["$ref"])
            if path is None:
                return {}
            try:
                target = self.node(path, pointer)
            except (KeyError, IndexError, TypeError):
                # The copy of that file lacks the definition (upstream renamed it between versions): accept anything.
                self.missing_refs.add(f"specification/{self.rel(path)}#{pointer}")
                return {}
            key, new = self.key_for(path, pointer)
            if new:
                self.definitions[key] = {}  # placeholder: recursive definitions end here
                self.definitions[key] = self.schema(path, target)
            out = {"$ref": f"#/definitions/{key}"}
            # Facts about the use of the referenced type (a read-only or nullable property of that type).
            out.update({name: node[name] for name in REF_SIBLINGS if name in node})
            return out
        out = {name: node[name] for name in KEEP if name in node}
        if out.get("type") == "file":
            del out["type"]
        properties, required = {}, list(node.get("required", []))
        for part in node.get("allOf", []):
            merged = self.flatten(base_file, part)
            for name in ("properties",):
                properties.update(merged.get(name, {}))
            required += [r for r in merged.get("required", []) if r not in required]
            for name in ("type", "additionalProperties", "discriminator"):
                if name in merged and name not in out:
                    out[name] = merged[name]
        for name, sub in node.get("properties", {}).items():
            properties[name] = self.schema(base_file, sub)
        if properties or "properties" in node:
            out["properties"] = properties
        if required:
            out["required"] = sorted(set(required))
        if "items" in node:
            out["items"] = self.schema(base_file, node["items"])
        if "additionalProperties" in node:
            extra = node["additionalProperties"]
            out["additionalProperties"] = extra if isinstance(extra, bool) else self.schema(base_file, extra)
        if "type" not in out and ("properties" in out or "additionalProperties" in out):
            out["type"] = "object"  # swagger often leaves it implicit
        return out

    def flatten(self, base_file, node):
        """The resolved content of an allOf member (a $ref is followed, not referenced)."""
        schema = self.schema(base_file, node)
        while "$ref" in schema and schema["$ref"].rsplit("/", 1)[-1] in self.definitions:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def parameter(self, base_file, param):
        pfile, param = self.deref(base_file, param)
        out = {name: param[name] for name in PARAM_KEEP if name in param}
        if param.get("in") == "body":
            out["schema"] = self.schema(pfile, param.get("schema", {}))
        elif "items" in param:
            out["items"] = {name: param["items"][name] for name in KEEP if name in param["items"]}
        return out

    # ---- one output -----------------------------------------------------------------------------------------------
    def build(self, spec):
        sources, operations = [], []
        path_filter = re.compile(spec["paths"], re.IGNORECASE) if spec.get("paths") else None
        for rel in spec["files"]:
            root, path = self.locate(rel)
            sources.append({"path": f"specification/{rel}", "sha256": sha256(path),
                            "info_version": self.load(path).get("info", {}).get("version")})
            doc = self.load(path)
            for template, ops in doc.get("paths", {}).items():
                if path_filter and not path_filter.search(template):
                    continue
                shared = ops.get("parameters", [])
                for method in METHODS:
                    if method not in ops:
                        continue
                    op = ops[method]
                    params = [self.parameter(path, p) for p in shared + op.get("parameters", [])]
                    body = next((p for p in params if p.get("in") == "body"), None)
                    responses = {}
                    for status, resp in op.get("responses", {}).items():
                        rfile, resp = self.deref(path, resp)
                        responses[status] = self.schema(rfile, resp["schema"]) if "schema" in resp else None
                    operation = {"operationId": op["operationId"], "method": method.upper(), "path": template,
                                 "parameters": sorted([p for p in params if p.get("in") != "body"],
                                                      key=lambda p: (p.get("in", ""), p.get("name", ""))),
                                 "body": body and {"required": bool(body.get("required")), "schema": body["schema"]},
                                 "responses": responses}
                    if op.get("x-ms-long-running-operation"):
                        operation["long_running"] = True
                    operations.append(operation)
        operations.sort(key=lambda o: (o["path"].lower(), o["method"]))
        used = {s["path"][len("specification/"):] for s in sources}
        referenced = sorted({rel_path for rel_path in (self.rel(p) for p in self.docs)} - used)
        return {
            "provider": spec["provider"], "api_version": spec["api_version"],
            "generated_by": GENERATOR,
            "note": "Derived facts of the official Azure REST API specs (Azure/azure-rest-api-specs, MIT); regenerate "
                    "with the generator, never edit by hand.",
            "sources": sources,
            "referenced_files": [{"path": f"specification/{r}", "sha256": sha256(self.locate(r)[1])} for r in referenced],
            "unresolved_files": sorted(f"specification/{m}" for m in self.missing),
            "unresolved_refs": sorted(self.missing_refs),
            "operations": operations,
            "definitions": self.definitions,
        }


def file_name(spec):
    return f"{spec['provider'].split('.', 1)[1].lower()}-{spec['api_version']}.json"


def render(data):
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def generate(roots, provenance=None):
    """{file name: text} for every output whose sources are found; {file name: missing source} for the others."""
    done, skipped = {}, {}
    for spec in OUTPUTS:
        try:
            data = Compactor(roots).build(spec)
        except SourceMissing as missing:
            skipped[file_name(spec)] = f"specification/{missing}"
            continue
        for source in data["sources"]:
            source.update((provenance or {}).get(source["path"], {}))
        done[file_name(spec)] = render(data)
    return done, skipped


def committed_provenance(out_dir):
    """Upstream commits recorded in the committed files (the generator cannot know them from a copy)."""
    found = {}
    for path in sorted(Path(out_dir).glob("*.json")):
        for source in json.loads(path.read_text()).get("sources", []):
            extra = {k: v for k, v in source.items() if k in PROVENANCE}
            if extra:
                found[source["path"]] = extra
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", action="append", type=Path,
                        help="a root holding specification/ (repeatable; default: $HRW_AZURE_SPECS or ../shared/azure-specs)")
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    parser.add_argument("--commit", action="append", default=[], metavar="SPECIFICATION_PATH=SHA",
                        help="record the upstream commit of a source file (kept across regenerations)")
    parser.add_argument("--note", action="append", default=[], metavar="SPECIFICATION_PATH=TEXT",
                        help="record how a source file was obtained (kept across regenerations)")
    args = parser.parse_args(argv)
    roots = args.specs or default_roots()
    if not roots:
        print(f"compact_schema: no Azure REST specs found: set {ENV_VAR} or pass --specs DIR", file=sys.stderr)
        return 2
    provenance = committed_provenance(args.out)
    for option, items in (("upstream_commit", args.commit), ("upstream_note", args.note)):
        for item in items:
            path, _, value = item.partition("=")
            provenance.setdefault(path, {})[option] = value
    done, skipped = generate(roots, provenance)
    for name, missing in sorted(skipped.items()):
        print(f"compact_schema: {name}: skipped, source not found: {missing}", file=sys.stderr)
    stale = []
    for name, text in sorted(done.items()):
        target = args.out / name
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(name)
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"compact_schema: wrote {target}")
        else:
            print(f"compact_schema: {target} is up to date")
    if stale:
        print("compact_schema: out of date: " + ", ".join(stale) + f" (regenerate: python {GENERATOR})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
