# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""The HybridWorker extension: desired body, comparison with what ARM returns, and what results and diffs show of it.

ARM never returns ``protectedSettings`` (the proxy password lives there), and nothing derived from them is stored where
Azure readers can see it, so they cannot be compared. As with ``update_password`` of ``ansible.builtin.user``, they are
sent when the extension is written anyway (an extension PUT replaces the resource: omitting them would drop them) and,
with ``update_protected_settings=always``, on every run.

On Linux the proxy server and user name travel only inside the protected ``Proxy_URL``. The extension carries them,
without any credential, in two tags (what the Windows extension shows to readers in its public ``ProxySettings``), so a
changed proxy server or user name is found on Linux too. Earlier versions kept a salted SHA-256 of the protected settings
in a tag (``LEGACY_FINGERPRINT_TAG``), which let any reader test guesses of the password offline: a run removes it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError

PUBLISHER = "Microsoft.Azure.Automation.HybridWorker"
TYPES = {"linux": "HybridWorkerForLinux", "windows": "HybridWorkerForWindows"}
# Properties Azure refuses to change on an existing extension (409 PropertyChangeNotAllowed): it is deleted and created again.
IMMUTABLE = ("publisher", "type")
LEGACY_FINGERPRINT_TAG = "hrw-protected-settings-fingerprint"
PROXY_SERVER_TAG = "hrw-proxy-server"
PROXY_USERNAME_TAG = "hrw-proxy-username"
TAG_VALUE_MAX = 256  # Azure's limit for a tag value
UPDATE_CHOICES = ("always", "on_create")
# What views show for the proxy password: never its value, never anything derived from it.
PASSWORD_UNKNOWN = "(unknown)"    # an existing extension with a proxy user: Azure does not return the password
PASSWORD_SET = "(set)"            # this run writes a password to a new extension
PASSWORD_CHANGED = "(changed)"    # this run writes a password to an existing extension (it may be the same one)


class ExtensionOptions(object):
    def __init__(self, type_handler_version="1.1", auto_upgrade_minor_version=True, enable_automatic_upgrade=True,
                 proxy_server=None, proxy_username=None, proxy_password=None, update_protected_settings="on_create"):
        if update_protected_settings not in UPDATE_CHOICES:
            raise OptionError("update_protected_settings",
                              "must be one of %s, got %r" % (", ".join(UPDATE_CHOICES), update_protected_settings))
        for option, value in (("proxy_server", proxy_server and proxy_server_without_credentials(proxy_server)),
                              ("proxy_username", proxy_username)):
            if value and len(value) > TAG_VALUE_MAX:
                raise OptionError(option, "is longer than %d characters" % TAG_VALUE_MAX)
        self.type_handler_version = type_handler_version
        self.auto_upgrade_minor_version = auto_upgrade_minor_version
        self.enable_automatic_upgrade = enable_automatic_upgrade
        self.proxy_server = proxy_server
        self.proxy_username = proxy_username
        self.proxy_password = proxy_password
        self.update_protected_settings = update_protected_settings

    @classmethod
    def from_params(cls, params):
        return cls(params.get("type_handler_version") or "1.1", params.get("auto_upgrade_minor_version", True),
                   params.get("enable_automatic_upgrade", True), params.get("proxy_server"), params.get("proxy_username"),
                   params.get("proxy_password"), params.get("update_protected_settings") or "on_create")


def _split_proxy(server):
    scheme, rest = server.split("://", 1) if "://" in server else ("http", server)
    return scheme, rest


def proxy_server_without_credentials(server):
    """``scheme://host:port`` of a Linux proxy, any ``user:password@`` dropped: what the proxy tag holds."""
    scheme, rest = _split_proxy(server)
    host = rest.rsplit("@", 1)[-1]
    return "%s://%s" % (scheme, host)


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
            scheme, rest = _split_proxy(options.proxy_server)
            auth = ""
            if options.proxy_username:
                auth = quote(options.proxy_username, safe="")
                if options.proxy_password:
                    auth += ":" + quote(options.proxy_password, safe="")
                auth += "@"
            protected["Proxy_URL"] = "%s://%s%s" % (scheme, auth, rest)
    return settings, protected


def secret_forms(options):
    """The password as it travels (also URL-quoted inside the Linux ``Proxy_URL``): values a module must never print."""
    if not options.proxy_password:
        return set()
    return set([options.proxy_password, quote(options.proxy_password, safe="")])


def _tags(extension):
    return dict((extension or {}).get("tags") or {})


def has_legacy_fingerprint(extension):
    return any(key.lower() == LEGACY_FINGERPRINT_TAG for key in _tags(extension))


def tags_without_legacy_fingerprint(extension):
    return dict((k, v) for k, v in _tags(extension).items() if k.lower() != LEGACY_FINGERPRINT_TAG)


def desired_extension(os_type, url, location, options, existing=None):
    """The PUT body, with the protected settings. Tags of ``existing`` are kept, except the legacy fingerprint.

    ``tags`` is sent whenever ``existing`` has tags: a PUT replaces the resource, and an empty ``tags`` is how a tag goes.
    """
    settings, protected = settings_for(os_type, url, options)
    tags = tags_without_legacy_fingerprint(existing)
    for key in (PROXY_SERVER_TAG, PROXY_USERNAME_TAG):
        tags.pop(key, None)
    if os_type == "linux" and options.proxy_server:
        tags[PROXY_SERVER_TAG] = proxy_server_without_credentials(options.proxy_server)
        if options.proxy_username:
            tags[PROXY_USERNAME_TAG] = options.proxy_username
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
    if tags or _tags(existing):
        body["tags"] = tags
    return body


def _version_matches(current, wanted):
    current, wanted = str(current or ""), str(wanted or "")
    return current == wanted or current.startswith(wanted + ".")


def replacement_reasons(existing, desired):
    """Why ``existing`` cannot be updated in place to ``desired``: its publisher or type differs (compared as Azure does,
    ignoring case). Azure answers a PUT that changes either with 409 PropertyChangeNotAllowed, so the extension has to be
    deleted and created again. Empty list: a PUT will do (or nothing exists yet)."""
    if existing is None:
        return []
    have = existing.get("properties") or {}
    want = desired["properties"]
    return ["%s %s -> %s" % (prop, have.get(prop), want[prop]) for prop in IMMUTABLE
            if str(have.get(prop) or "").lower() != str(want[prop]).lower()]


def differences(existing, desired, force=False, update_protected_settings="on_create"):
    """Why ``existing`` (ARM GET of the extension, or None) must be rewritten to ``desired``. Empty list: nothing to do.

    The protected settings themselves cannot be compared (Azure never returns them): they only count with
    ``update_protected_settings=always``. A legacy fingerprint tag alone is no reason to rewrite: see ``cleanup_tags``.
    """
    if existing is None:
        return ["extension missing"]
    found = replacement_reasons(existing, desired)
    have = existing.get("properties") or {}
    want = desired["properties"]
    if not _version_matches(have.get("typeHandlerVersion"), want["typeHandlerVersion"]):
        found.append("typeHandlerVersion %s -> %s" % (have.get("typeHandlerVersion"), want["typeHandlerVersion"]))
    for key in ("autoUpgradeMinorVersion", "enableAutomaticUpgrade"):
        if bool(have.get(key)) != want[key]:
            found.append("%s %s -> %s" % (key, bool(have.get(key)), want[key]))
    if (have.get("settings") or {}) != want["settings"]:
        found.append("settings changed")
    have_tags, want_tags = _tags(existing), desired.get("tags") or {}
    for tag, label in ((PROXY_SERVER_TAG, "proxy server"), (PROXY_USERNAME_TAG, "proxy username")):
        if have_tags.get(tag) != want_tags.get(tag):
            found.append("%s %s -> %s" % (label, have_tags.get(tag), want_tags.get(tag)))
    protected = want.get("protectedSettings") or {}
    if not protected and has_legacy_fingerprint(existing):
        # Only an earlier release wrote that tag, and only with protected settings: a PUT without them removes them.
        found.append("protected settings removed")
    if protected and update_protected_settings == "always":
        found.append("protected settings re-sent (update_protected_settings=always)")
    if str(have.get("provisioningState") or "Succeeded").lower() == "failed":
        found.append("provisioningState Failed")
    if force and not found:
        found.append("force")
    return found


def cleanup_tags(existing):
    """The PATCH body that removes the legacy fingerprint tag from ``existing``, or None when it has none.

    A PATCH changes only what it names and keeps the protected settings. ``tags`` in a PATCH replaces all tags.
    """
    if existing is None or not has_legacy_fingerprint(existing):
        return None
    return {"tags": tags_without_legacy_fingerprint(existing)}


def extension_view(extension):
    """What results and diffs show of an extension. Never the protected settings nor anything derived from them.

    ``proxy_password`` is ``(unknown)`` when the extension has a proxy with a user name (Azure does not return the
    password), else null. ``legacy_fingerprint_tag`` says whether the tag of earlier versions is still there (never its value).
    """
    if extension is None:
        return None
    props = extension.get("properties") or {}
    settings = props.get("settings") or {}
    tags = _tags(extension)
    windows_proxy = settings.get("ProxySettings") or {}
    proxy_server = windows_proxy.get("ProxyServer") or tags.get(PROXY_SERVER_TAG)
    proxy_username = windows_proxy.get("UserName") or tags.get(PROXY_USERNAME_TAG)
    return {
        "name": extension.get("name"),
        "publisher": props.get("publisher"),
        "type": props.get("type"),
        "type_handler_version": props.get("typeHandlerVersion"),
        "auto_upgrade_minor_version": props.get("autoUpgradeMinorVersion"),
        "enable_automatic_upgrade": props.get("enableAutomaticUpgrade"),
        "automation_account_url": settings.get("AutomationAccountURL"),
        "proxy_server": proxy_server,
        "proxy_username": proxy_username,
        "proxy_password": PASSWORD_UNKNOWN if proxy_server and proxy_username else None,
        "provisioning_state": props.get("provisioningState"),
        "legacy_fingerprint_tag": has_legacy_fingerprint(extension),
    }


def written_view(extension, password_sent, existed):
    """``extension_view`` of an extension this run writes: the password as ``(set)``/``(changed)``, or null without one."""
    view = extension_view(extension)
    view["proxy_password"] = (PASSWORD_CHANGED if existed else PASSWORD_SET) if password_sent else None
    return view
