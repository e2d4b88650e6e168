# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import re

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import (
    LEGACY_FINGERPRINT_TAG, PROXY_SERVER_TAG, PROXY_USERNAME_TAG, ExtensionOptions, cleanup_tags, desired_extension,
    differences, extension_view, replacement_reasons, secret_forms, settings_for, written_view)

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


def readable(body):
    """What an Azure reader gets of an extension written with ``body``: everything but the protected settings."""
    return json.dumps(stored(body), sort_keys=True)


def assert_nothing_derived_from(text, password):
    assert password not in text
    for form in (password, "u:" + password, json.dumps({"ProxyPassword": password})):
        assert hashlib.sha256(form.encode("utf-8")).hexdigest() not in text
    assert not re.search(r"[0-9a-fA-F]{32,}", text), "a hash-like value is readable: %s" % text
    assert "fingerprint" not in text.lower().replace('"legacy_fingerprint_tag": false', "")


@pytest.mark.parametrize("os_type", ["linux", "windows"])
def test_nothing_readable_is_derived_from_the_password(os_type):
    options = ExtensionOptions(proxy_server="http://10.0.0.1:3128", proxy_username="u", proxy_password="hunter2-Pr0xy")
    body = desired_extension(os_type, URL, "westeurope", options)
    assert body["properties"]["protectedSettings"]  # the password is sent, in the protected settings only
    assert_nothing_derived_from(readable(body), "hunter2-Pr0xy")
    assert_nothing_derived_from(json.dumps(extension_view(stored(body))), "hunter2-Pr0xy")
    assert_nothing_derived_from(json.dumps(written_view(stored(body), True, False)), "hunter2-Pr0xy")


def test_linux_proxy_tags_hold_no_credentials():
    options = ExtensionOptions(proxy_server="https://a:b@proxy.example:3128", proxy_username="u@x", proxy_password="p")
    tags = desired_extension("linux", URL, "x", options)["tags"]
    assert tags == {PROXY_SERVER_TAG: "https://proxy.example:3128", PROXY_USERNAME_TAG: "u@x"}
    assert "tags" not in desired_extension("windows", URL, "x", options)  # Windows shows them in its public settings


@pytest.mark.parametrize("os_type", ["linux", "windows"])
def test_password_change_is_sent_only_when_asked(os_type):
    old = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="one")
    existing = stored(desired_extension(os_type, URL, "westeurope", old))
    new = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="two")
    assert differences(existing, desired_extension(os_type, URL, "westeurope", new, existing)) == []
    always = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="two", update_protected_settings="always")
    assert differences(existing, desired_extension(os_type, URL, "westeurope", always, existing), update_protected_settings="always") \
        == ["protected settings re-sent (update_protected_settings=always)"]
    # always without protected settings has nothing to send
    plain = stored(desired_extension(os_type, URL, "westeurope", ExtensionOptions()))
    assert differences(plain, desired_extension(os_type, URL, "westeurope", ExtensionOptions()), update_protected_settings="always") == []


@pytest.mark.parametrize("os_type", ["linux", "windows"])
def test_proxy_server_and_user_changes_are_found_and_the_write_carries_the_password(os_type):
    options = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="secret")
    existing = stored(desired_extension(os_type, URL, "westeurope", options))
    for changed in (ExtensionOptions(proxy_server="q:2", proxy_username="u", proxy_password="secret"),
                    ExtensionOptions(proxy_server="p:1", proxy_username="v", proxy_password="secret")):
        desired = desired_extension(os_type, URL, "westeurope", changed, existing)
        assert differences(existing, desired)
        assert desired["properties"]["protectedSettings"]
    # Any write (here a new version) carries the protected settings: a PUT without them would drop the password.
    upgraded = ExtensionOptions("1.2", proxy_server="p:1", proxy_username="u", proxy_password="secret")
    desired = desired_extension(os_type, URL, "westeurope", upgraded, existing)
    assert differences(existing, desired) == ["typeHandlerVersion 1.1 -> 1.2"]
    assert desired["properties"]["protectedSettings"] == settings_for(os_type, URL, options)[1]


@pytest.mark.parametrize("os_type", ["linux", "windows"])
def test_unchanged_extension_has_no_differences(os_type):
    options = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="secret")
    existing = stored(desired_extension(os_type, URL, "westeurope", options))
    again = desired_extension(os_type, URL, "westeurope", options, existing)
    assert differences(existing, again) == [] and again.get("tags") == existing.get("tags")


def test_changes_are_detected():
    options = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="secret")
    existing = stored(desired_extension("windows", URL, "westeurope", options))
    assert differences(existing, desired_extension("windows", URL + "x", "westeurope", options, existing)) == ["settings changed"]
    assert differences(existing, desired_extension("linux", URL, "westeurope", options, existing))[0].startswith("type ")
    assert differences(None, desired_extension("linux", URL, "x", options)) == ["extension missing"]
    assert differences(existing, desired_extension("windows", URL, "x", options, existing), force=True) == ["force"]
    linux = stored(desired_extension("linux", URL, "westeurope", options))
    assert differences(linux, desired_extension("linux", URL, "westeurope", ExtensionOptions(), linux)) == [
        "proxy server http://p:1 -> None", "proxy username u -> None"]


def legacy(body, **tags):
    """An extension as earlier versions left it: a fingerprint tag beside the user's tags."""
    copy = stored(body)
    copy["tags"] = dict(tags, **{LEGACY_FINGERPRINT_TAG: "v1:00112233aabbccdd:" + "ab" * 32})
    return copy


def test_legacy_fingerprint_tag_goes_with_a_tag_patch_or_with_the_write():
    options = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="secret")
    existing = legacy(desired_extension("windows", URL, "westeurope", options), owner="ops")
    desired = desired_extension("windows", URL, "westeurope", options, existing)
    assert differences(existing, desired) == []  # nothing else differs: no PUT, only the tag PATCH
    assert cleanup_tags(existing) == {"tags": {"owner": "ops"}}
    assert desired["tags"] == {"owner": "ops"}  # a write for another reason drops it too
    assert extension_view(existing)["legacy_fingerprint_tag"] is True
    assert cleanup_tags(stored(desired)) is None and cleanup_tags(None) is None
    # The tag says protected settings were written: without a password now, a PUT (without them) removes them.
    bare = desired_extension("windows", URL, "westeurope", ExtensionOptions(proxy_server="p:1", proxy_username="u"), existing)
    assert differences(existing, bare) == ["protected settings removed"] and "protectedSettings" not in bare["properties"]
    only_tag = legacy(desired_extension("windows", URL, "westeurope", options))
    assert cleanup_tags(only_tag) == {"tags": {}} and desired_extension("windows", URL, "x", options, only_tag)["tags"] == {}


def test_options_are_checked():
    with pytest.raises(OptionError, match="update_protected_settings"):
        ExtensionOptions(update_protected_settings="sometimes")
    with pytest.raises(OptionError, match="proxy_server"):
        ExtensionOptions(proxy_server="http://" + "p" * 300)


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
    view = extension_view(stored(body))
    assert "hunter2" not in json.dumps(view) and "hunter2" not in json.dumps(body.get("tags"))
    assert view["proxy_server"] == "http://p:1" and view["proxy_username"] == "u" and view["proxy_password"] == "(unknown)"
    assert written_view(stored(body), True, False)["proxy_password"] == "(set)"
    assert written_view(stored(body), True, True)["proxy_password"] == "(changed)"
    assert written_view(stored(body), False, True)["proxy_password"] is None
    assert extension_view(stored(desired_extension("linux", URL, "x", ExtensionOptions())))["proxy_password"] is None


def test_secret_forms_cover_the_quoted_password_of_the_linux_url():
    assert secret_forms(ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="a b/c")) == {"a b/c", "a%20b%2Fc"}
    assert secret_forms(ExtensionOptions()) == set()


def test_another_type_or_publisher_needs_a_replacement_other_changes_do_not():
    options = ExtensionOptions(proxy_server="p:1", proxy_username="u", proxy_password="secret")
    windows = stored(desired_extension("windows", URL, "westeurope", options))
    linux = desired_extension("linux", URL, "westeurope", options, windows)
    assert replacement_reasons(windows, linux) == ["type HybridWorkerForWindows -> HybridWorkerForLinux"]
    assert replacement_reasons(None, linux) == []
    foreign = stored(linux)
    foreign["properties"]["publisher"] = "Contoso.Tools"
    assert replacement_reasons(foreign, linux) == ["publisher Contoso.Tools -> Microsoft.Azure.Automation.HybridWorker"]
    assert differences(foreign, linux)[0] == replacement_reasons(foreign, linux)[0]
    # Azure compares them ignoring case; version, settings and a failed state are changed in place.
    same = stored(linux, "Failed")
    same["properties"].update(publisher="MICROSOFT.AZURE.AUTOMATION.HYBRIDWORKER", type="hybridworkerforlinux", typeHandlerVersion="1.0",
                              settings={"AutomationAccountURL": URL + "x"})
    assert replacement_reasons(same, linux) == [] and differences(same, linux)
    view = extension_view(foreign)
    assert (view["publisher"], view["type"]) == ("Contoso.Tools", "HybridWorkerForLinux")


class TestReplaceExtension(object):
    """MachineService.replace_extension: DELETE, wait for its operation, then PUT (Azure refuses a type change in place)."""

    def _service(self, responses):
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import ArmClient, RetryPolicy
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._hybrid_worker import MachineService
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import parse_machine_id
        from hrw_fakes import FakeClock, ScriptedTransport, vm_id
        clock = FakeClock()
        arm = ArmClient(ScriptedTransport(responses), "sub", warn=lambda message: None, clock=clock, sleep=clock.sleep,
                        retry=RetryPolicy(max_retries=2, base=1.0, cap=8.0, rand=lambda a, b: b))
        return MachineService(arm, timeout=120), parse_machine_id(vm_id("vm1")), arm

    def test_delete_is_waited_for_before_the_put(self):
        from hrw_fakes import resp
        desired = desired_extension("linux", URL, "westeurope", ExtensionOptions())
        service, machine, arm = self._service([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/del", "Retry-After": "1"}),
            resp(200, {"status": "InProgress"}, {"Retry-After": "1"}),
            resp(200, {"status": "Succeeded"}),
            resp(201, stored(desired, "Creating"), {"Azure-AsyncOperation": "https://arm/op/put", "Retry-After": "1"}),
            resp(200, {"status": "Succeeded"}),
            resp(200, stored(desired)),
        ])
        final = service.replace_extension(machine, desired)
        assert final["properties"]["type"] == "HybridWorkerForLinux" and final["properties"]["provisioningState"] == "Succeeded"
        calls = [(c[0], c[1].rsplit("/", 1)[-1]) for c in arm.transport.calls]
        assert calls == [("DELETE", "HybridWorkerExtension"), ("GET", "del"), ("GET", "del"), ("PUT", "HybridWorkerExtension"),
                         ("GET", "put"), ("GET", "HybridWorkerExtension")]
        assert arm.transport.calls[3][3] == desired

    def test_a_failed_delete_writes_nothing_more(self):
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OperationFailed
        from hrw_fakes import resp
        service, machine, arm = self._service([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/del"}),
            resp(200, {"status": "Failed", "error": {"code": "VMExtensionHandlerNonTransientError", "message": "uninstall failed"}}),
        ])
        with pytest.raises(OperationFailed, match="VMExtensionHandlerNonTransientError"):
            service.replace_extension(machine, desired_extension("linux", URL, "westeurope", ExtensionOptions()))
        assert [c[0] for c in arm.transport.calls] == ["DELETE", "GET"]
