# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import (
    FINGERPRINT_TAG, ExtensionOptions, desired_extension, differences, extension_view, fingerprint, fingerprint_matches,
    settings_for)

URL = "https://acc.jrds.weu.azure-automation.net/automationAccounts/acc"


def stored(body, state="Succeeded"):
    """What ARM returns after a PUT: no protectedSettings."""
    copy = json.loads(json.dumps(body))
    copy["name"] = "HybridWorkerExtension"
    copy["properties"].pop("protectedSettings", None)
    copy["properties"]["provisioningState"] = state
    return copy


def test_linux_body_matches_the_docs():
    body = desired_extension("linux", URL, "westeurope", ExtensionOptions())
    assert body == {"location": "westeurope", "properties": {
        "publisher": "Microsoft.Azure.Automation.HybridWorker", "type": "HybridWorkerForLinux", "typeHandlerVersion": "1.1",
        "autoUpgradeMinorVersion": True, "enableAutomaticUpgrade": True, "settings": {"AutomationAccountURL": URL}}}


def test_proxy_settings_per_os():
    options = ExtensionOptions(proxy_server="10.0.0.1:3128", proxy_username="u@x", proxy_password="p:w")
    settings, protected = settings_for("windows", URL, options)
    assert settings["ProxySettings"] == {"ProxyServer": "10.0.0.1:3128", "UserName": "u@x"}
    assert protected == {"ProxyPassword": "p:w"}
    settings, protected = settings_for("linux", URL, options)
    assert "ProxySettings" not in settings
    assert protected == {"Proxy_URL": "http://u%40x:p%3Aw@10.0.0.1:3128"}


def test_fingerprint_is_salted_and_verifiable():
    first, second = fingerprint({"ProxyPassword": "a"}), fingerprint({"ProxyPassword": "a"})
    assert first != second
    assert fingerprint_matches(first, {"ProxyPassword": "a"}) and not fingerprint_matches(first, {"ProxyPassword": "b"})
    assert "a" not in first.split(":")[2][:0] and len(first.split(":")[2]) == 64
    assert not fingerprint_matches("garbage", {"ProxyPassword": "a"})


def test_unchanged_extension_has_no_differences():
    options = ExtensionOptions(proxy_server="p:1", proxy_password="secret")
    body = desired_extension("windows", URL, "westeurope", options)
    existing = stored(body)
    assert differences(existing, desired_extension("windows", URL, "westeurope", options, existing)) == []
    assert desired_extension("windows", URL, "westeurope", options, existing)["tags"] == existing["tags"]


def test_changes_are_detected():
    options = ExtensionOptions(proxy_server="p:1", proxy_password="secret")
    existing = stored(desired_extension("windows", URL, "westeurope", options))
    new_password = ExtensionOptions(proxy_server="p:1", proxy_password="other")
    assert differences(existing, desired_extension("windows", URL, "westeurope", new_password, existing)) == ["protected settings changed"]
    assert differences(existing, desired_extension("windows", URL + "x", "westeurope", options, existing)) == ["settings changed"]
    assert differences(existing, desired_extension("windows", URL, "westeurope", ExtensionOptions(proxy_server="p:1"), existing)) \
        == ["protected settings removed"]
    assert differences(existing, desired_extension("linux", URL, "westeurope", options, existing))[0].startswith("type ")
    assert differences(None, desired_extension("linux", URL, "x", options)) == ["extension missing"]
    assert differences(existing, desired_extension("windows", URL, "x", options, existing), force=True) == ["force"]


def test_failed_extension_is_rewritten_and_versions_compare_by_prefix():
    body = desired_extension("linux", URL, "x", ExtensionOptions())
    assert differences(stored(body, "Failed"), body) == ["provisioningState Failed"]
    upgraded = stored(body)
    upgraded["properties"]["typeHandlerVersion"] = "1.1.11"
    assert differences(upgraded, body) == []
    upgraded["properties"]["typeHandlerVersion"] = "1.10"
    assert differences(upgraded, body) == ["typeHandlerVersion 1.10 -> 1.1"]


def test_view_never_shows_protected_settings():
    body = desired_extension("linux", URL, "x", ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="hunter2"))
    assert "hunter2" not in json.dumps(extension_view(body))
    assert extension_view(body)["protected_settings_fingerprint"] is True
    assert FINGERPRINT_TAG in body["tags"] and "hunter2" not in json.dumps(body["tags"])
