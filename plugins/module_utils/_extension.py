# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""The HybridWorker extension: desired body, comparison with what ARM returns, and the protected-settings fingerprint.

ARM never returns ``protectedSettings`` (the proxy password lives there), so the extension carries a tag with a salted
SHA-256 of the protected settings we wrote. A re-run recomputes it with the stored salt: same secret, no write.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

PUBLISHER = "Microsoft.Azure.Automation.HybridWorker"
TYPES = {"linux": "HybridWorkerForLinux", "windows": "HybridWorkerForWindows"}
FINGERPRINT_TAG = "hrw-protected-settings-fingerprint"


class ExtensionOptions(object):
    def __init__(self, type_handler_version="1.1", auto_upgrade_minor_version=True, enable_automatic_upgrade=True,
                 proxy_server=None, proxy_username=None, proxy_password=None):
        self.type_handler_version = type_handler_version
        self.auto_upgrade_minor_version = auto_upgrade_minor_version
        self.enable_automatic_upgrade = enable_automatic_upgrade
        self.proxy_server = proxy_server
        self.proxy_username = proxy_username
        self.proxy_password = proxy_password

    @classmethod
    def from_params(cls, params):
        return cls(params.get("type_handler_version") or "1.1", params.get("auto_upgrade_minor_version", True),
                   params.get("enable_automatic_upgrade", True), params.get("proxy_server"), params.get("proxy_username"),
                   params.get("proxy_password"))


def settings_for(os_type, url, options):
    """(settings, protected_settings) as the extension documents them for each OS."""
    settings = {"AutomationAccountURL": url}
    protected = {}
    if options.proxy_server:
        if os_type == "windows":
            proxy = {"ProxyServer": options.proxy_server}
            if options.proxy_username:
                proxy["UserName"] = options.proxy_username
            settings["ProxySettings"] = proxy
            if options.proxy_password:
                protected["ProxyPassword"] = options.proxy_password
        else:
            server = options.proxy_server
            scheme, rest = server.split("://", 1) if "://" in server else ("http", server)
            auth = ""
            if options.proxy_username:
                auth = quote(options.proxy_username, safe="")
                if options.proxy_password:
                    auth += ":" + quote(options.proxy_password, safe="")
                auth += "@"
            protected["Proxy_URL"] = "%s://%s%s" % (scheme, auth, rest)
    return settings, protected


def fingerprint(protected, salt=None):
    """``v1:<salt>:<sha256(salt + canonical json)>``; the salt defeats precomputed guesses of short passwords."""
    salt = salt or os.urandom(8).hex()
    data = json.dumps(protected, sort_keys=True, separators=(",", ":"))
    return "v1:%s:%s" % (salt, hashlib.sha256((salt + data).encode("utf-8")).hexdigest())


def fingerprint_matches(tag, protected):
    if not tag or not tag.startswith("v1:") or tag.count(":") != 2:
        return False
    salt = tag.split(":")[1]
    return fingerprint(protected, salt) == tag


def desired_extension(os_type, url, location, options, existing=None):
    """The PUT body. Keeps the existing fingerprint when the protected settings did not change (so the body is stable)."""
    settings, protected = settings_for(os_type, url, options)
    tags = dict((existing or {}).get("tags") or {})
    tags.pop(FINGERPRINT_TAG, None)
    if protected:
        old = ((existing or {}).get("tags") or {}).get(FINGERPRINT_TAG)
        tags[FINGERPRINT_TAG] = old if fingerprint_matches(old, protected) else fingerprint(protected)
    props = {
        "publisher": PUBLISHER,
        "type": TYPES[os_type],
        "typeHandlerVersion": options.type_handler_version,
        "autoUpgradeMinorVersion": bool(options.auto_upgrade_minor_version),
        "enableAutomaticUpgrade": bool(options.enable_automatic_upgrade),
        "settings": settings,
    }
    if protected:
        props["protectedSettings"] = protected
    body = {"location": location, "properties": props}
    if tags:
        body["tags"] = tags
    return body


def _version_matches(current, wanted):
    current, wanted = str(current or ""), str(wanted or "")
    return current == wanted or current.startswith(wanted + ".")


def differences(existing, desired, force=False):
    """Why ``existing`` (ARM GET of the extension, or None) must be rewritten to ``desired``. Empty list: nothing to do."""
    if existing is None:
        return ["extension missing"]
    found = []
    have = existing.get("properties") or {}
    want = desired["properties"]
    if str(have.get("publisher") or "").lower() != want["publisher"].lower():
        found.append("publisher %s -> %s" % (have.get("publisher"), want["publisher"]))
    if str(have.get("type") or "").lower() != want["type"].lower():
        found.append("type %s -> %s" % (have.get("type"), want["type"]))
    if not _version_matches(have.get("typeHandlerVersion"), want["typeHandlerVersion"]):
        found.append("typeHandlerVersion %s -> %s" % (have.get("typeHandlerVersion"), want["typeHandlerVersion"]))
    for key in ("autoUpgradeMinorVersion", "enableAutomaticUpgrade"):
        if bool(have.get(key)) != want[key]:
            found.append("%s %s -> %s" % (key, bool(have.get(key)), want[key]))
    if (have.get("settings") or {}) != want["settings"]:
        found.append("settings changed")
    protected = want.get("protectedSettings") or {}
    tag = (existing.get("tags") or {}).get(FINGERPRINT_TAG)
    if protected and not fingerprint_matches(tag, protected):
        found.append("protected settings changed")
    if not protected and tag:
        found.append("protected settings removed")
    if str(have.get("provisioningState") or "Succeeded").lower() == "failed":
        found.append("provisioningState Failed")
    if force and not found:
        found.append("force")
    return found


def extension_view(extension):
    """What results and diffs show of an extension. Never the protected settings."""
    if extension is None:
        return None
    props = extension.get("properties") or {}
    settings = props.get("settings") or {}
    return {
        "name": extension.get("name"),
        "type": props.get("type"),
        "type_handler_version": props.get("typeHandlerVersion"),
        "auto_upgrade_minor_version": props.get("autoUpgradeMinorVersion"),
        "enable_automatic_upgrade": props.get("enableAutomaticUpgrade"),
        "automation_account_url": settings.get("AutomationAccountURL"),
        "proxy_server": (settings.get("ProxySettings") or {}).get("ProxyServer"),
        "provisioning_state": props.get("provisioningState"),
        "protected_settings_fingerprint": bool((extension.get("tags") or {}).get(FINGERPRINT_TAG)),
    }
