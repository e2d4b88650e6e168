# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Resource ids, names and worker id derivation. Pure functions, no Azure calls."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import unicodedata
import uuid

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError

# Fixed namespace of worker ids derived from a machine's resource id (docs/design.md section 4). Never change it:
# every existing deployment's re-runs depend on it.
WORKER_ID_NAMESPACE = uuid.UUID("6f1c9a52-3d0e-5b7a-9e44-2a8d1c7b0f13")

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RG_RE = re.compile(r"^[-\w._()]{1,90}$", re.UNICODE)
_MACHINE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ACCOUNT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$")
# Characters Azure Automation refuses in child resource names (group names are shown in portal URLs).
_GROUP_FORBIDDEN = set('<>*%&:\\?/+#|"')

MACHINE_TYPES = {
    "microsoft.compute/virtualmachines": ("Microsoft.Compute", "virtualMachines", "vm"),
    "microsoft.hybridcompute/machines": ("Microsoft.HybridCompute", "machines", "arc"),
}


class MachineId(object):
    """A parsed Azure VM or Arc machine id."""

    def __init__(self, subscription_id, resource_group, provider, resource_type, name, kind):
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.provider = provider
        self.resource_type = resource_type
        self.name = name
        self.kind = kind  # 'vm' or 'arc'

    @property
    def id(self):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s" % (
            self.subscription_id, self.resource_group, self.provider, self.resource_type, self.name)

    @property
    def key(self):
        """Comparison key: ARM ids are case-insensitive."""
        return self.id.lower()

    def __repr__(self):
        return "MachineId(%r)" % self.id


def is_guid(value):
    return isinstance(value, str) and bool(_GUID_RE.match(value))


def normalize_guid(value, option):
    """Return the lower-case GUID or raise OptionError naming ``option``."""
    if not is_guid(value):
        raise OptionError(option, "%r is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" % (value,))
    return value.lower()


def parse_machine_id(value, option="vm_resource_id"):
    """Parse an Azure VM or Arc machine resource id; raise OptionError naming ``option`` when malformed or foreign."""
    if not isinstance(value, str) or not value.strip():
        raise OptionError(option, "a resource id is required")
    text = value.strip()
    parts = text.split("/")
    if len(parts) != 9 or parts[0] != "":
        raise OptionError(option, "%r is not a resource id of the form /subscriptions/<guid>/resourceGroups/<rg>/providers/"
                                  "Microsoft.Compute/virtualMachines/<name> or .../Microsoft.HybridCompute/machines/<name>" % (text,))
    subs, sub, rgs, rg, provs, provider, rtype, name = parts[1:]
    if subs.lower() != "subscriptions" or rgs.lower() != "resourcegroups" or provs.lower() != "providers":
        raise OptionError(option, "%r is not a resource id (expected /subscriptions/.../resourceGroups/.../providers/...)" % (text,))
    if not is_guid(sub):
        raise OptionError(option, "subscription %r in %r is not a GUID" % (sub, text))
    if not _RG_RE.match(rg) or rg.endswith("."):
        raise OptionError(option, "resource group %r in %r breaks Azure's naming rules" % (rg, text))
    kind = MACHINE_TYPES.get(("%s/%s" % (provider, rtype)).lower())
    if kind is None:
        raise OptionError(option, "%r is a %s/%s resource; only Microsoft.Compute/virtualMachines and "
                                  "Microsoft.HybridCompute/machines can be hybrid workers" % (text, provider, rtype))
    if not _MACHINE_RE.match(name) or name.endswith(".") or name.endswith("-"):
        raise OptionError(option, "machine name %r in %r breaks Azure's naming rules" % (name, text))
    return MachineId(sub.lower(), rg, kind[0], kind[1], name, kind[2])


def derive_worker_id(machine_id):
    """The worker GUID for a new record: uuid5 of the lower-cased machine id. Stable across runs and controllers."""
    key = machine_id.key if isinstance(machine_id, MachineId) else str(machine_id).lower()
    return str(uuid.uuid5(WORKER_ID_NAMESPACE, key))


def validate_group_name(value, option="name"):
    """Hybrid worker group names: 1-128 characters, none of <>*%&:\\?/+#|", no control characters, no trailing dot or space."""
    if not isinstance(value, str) or not value:
        raise OptionError(option, "a hybrid worker group name is required")
    if len(value) > 128:
        raise OptionError(option, "%r is longer than 128 characters" % (value,))
    bad = sorted(set(c for c in value if c in _GROUP_FORBIDDEN or ord(c) < 32))
    if bad:
        raise OptionError(option, "%r contains characters Azure refuses in a hybrid worker group name: %s" % (value, " ".join(repr(c) for c in bad)))
    if value != value.strip() or value.endswith("."):
        raise OptionError(option, "%r must not start or end with a space or end with a dot" % (value,))
    check_visible_name(value, option, "hybrid worker group")
    return value


# Scripts that mix with Latin in real names without making a letter look like a Latin one (Unicode TS #39,
# "highly restrictive": Latin + Han + Hiragana + Katakana, Latin + Han + Hangul, Latin + Han + Bopomofo).
_MIXES_WITH_LATIN = ("LATIN", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO")


def _code_point(char):
    return "U+%04X (%s)" % (ord(char), unicodedata.name(char, "unnamed"))


def name_character_problem(value):
    """Why ``value`` could pass for another name (an invisible or look-alike character), or None.

    Refused: format and control characters (zero-width space, joiners, bidi marks, BOM), spaces other than U+0020,
    unassigned and private-use code points, combining marks (a decomposed accent looks like a composed one),
    compatibility forms (fullwidth, mathematical or ligature letters that NFKC folds to plain ones), modifier letters,
    and letters of a script that imitates Latin (Cyrillic, Greek, ...) in a name that also has Latin letters.
    """
    scripts = {}
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if char == " ":
            continue
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"):
            return "%s at position %d is an invisible or non-printing character" % (_code_point(char), position)
        if category in ("Mn", "Mc", "Me"):
            return ("%s at position %d is a combining mark (write the accented letter as one character, Unicode NFC)"
                    % (_code_point(char), position))
        if unicodedata.normalize("NFKC", char) != char:
            return ("%s at position %d is a compatibility form of %r and looks like it"
                    % (_code_point(char), position, unicodedata.normalize("NFKC", char)))
        if category == "Lm":
            return "%s at position %d is a modifier letter that looks like punctuation" % (_code_point(char), position)
        if category.startswith("L"):
            scripts.setdefault(unicodedata.name(char, "UNKNOWN").split(" ")[0], []).append(position)
    if "LATIN" in scripts:
        foreign = sorted((positions[0], script) for script, positions in scripts.items() if script not in _MIXES_WITH_LATIN)
        if foreign:
            position, script = foreign[0]
            return ("%s at position %d is a %s letter among Latin ones (a look-alike of a Latin letter)"
                    % (_code_point(value[position]), position, script.title()))
    return None


def check_visible_name(value, option, what):
    """Raise OptionError naming ``option`` and the code point when ``value`` has an invisible or look-alike character."""
    problem = name_character_problem(value)
    if problem:
        raise OptionError(option, "%r: %s. Such a %s name looks like another one but names a different resource; "
                                  "type the name again in plain characters" % (value, problem, what))


def validate_resource_group(value, option="resource_group"):
    if not isinstance(value, str) or not _RG_RE.match(value) or value.endswith("."):
        raise OptionError(option, "%r breaks Azure's resource group naming rules (1-90 letters, digits, . _ - ( ), no trailing dot)" % (value,))
    return value


def validate_account_name(value, option="automation_account"):
    if not isinstance(value, str) or not _ACCOUNT_RE.match(value):
        raise OptionError(option, "%r breaks Azure's Automation account naming rules (6-50 letters, digits and hyphens, "
                                  "starting with a letter, not ending with a hyphen)" % (value,))
    return value


def same_id(a, b):
    return (a or "").strip().lower() == (b or "").strip().lower()
