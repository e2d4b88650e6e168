# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option checks run before any call: names, versions, proxy addresses, bounds, empty credentials, the CA bundle variables."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._azure_auth import (
    AZURE_AUTH_ARGSPEC, check_ca_bundle, resolve_auth)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import HrwError, OptionError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import validate_group_name
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._validate import (
    validate_credential_name, validate_group_options, validate_proxy_server, validate_register_options,
    validate_type_handler_version)

SUB = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
TENANT = "99999999-8888-7777-6666-555555555555"


def raises_option(option, fn, *args, **kwargs):
    with pytest.raises(OptionError) as info:
        fn(*args, **kwargs)
    assert info.value.option == option, info.value.msg
    assert "'%s'" % option in info.value.msg
    return info.value.msg


# -- group and credential names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,code_point", [
    (u"linux\u200bworkers", "U+200B"),          # zero-width space
    (u"linux-workers\u200d", "U+200D"),         # zero-width joiner at the end
    (u"\ufefflinux", "U+FEFF"),                 # byte order mark
    (u"linux\u00a0workers", "U+00A0"),          # no-break space
    (u"linux\u202eworkers", "U+202E"),          # right-to-left override
    (u"\u0430dmins", "U+0430"),                 # Cyrillic a among Latin letters
    (u"lin\u03bfx", "U+03BF"),                  # Greek omicron among Latin letters
    (u"\uff4cinux", "U+FF4C"),                  # fullwidth l
    (u"linux-workers\u0301", "U+0301"),         # combining accent
    (u"ops\u02bcteam", "U+02BC"),               # modifier letter apostrophe
])
def test_group_name_with_invisible_or_look_alike_character_is_refused(name, code_point):
    msg = raises_option("name", validate_group_name, name, "name")
    assert code_point in msg and "position" in msg


@pytest.mark.parametrize("name", [u"linux-workers", u"Linux Workers 2", u"caf\u00e9-ops", u"\u0440\u0430\u0431\u043e\u0442\u0430",
                                  u"ops-\u4f5c\u696d", u"team_1(a)", u"x" * 128])
def test_plain_names_pass(name):
    assert validate_group_name(name, "group") == name


def test_credential_name_rules():
    assert validate_credential_name(None) is None
    assert validate_credential_name("runbook-runner") == "runbook-runner"
    msg = raises_option("credential_name", validate_credential_name, "c" * 300)
    assert "300 characters" in msg and "128" in msg
    assert validate_credential_name("c" * 128) == "c" * 128
    raises_option("credential_name", validate_credential_name, "svc.runner")
    raises_option("credential_name", validate_credential_name, "domain\\user")
    raises_option("credential_name", validate_credential_name, "runner ")
    raises_option("credential_name", validate_credential_name, " ")
    assert "U+200B" in raises_option("credential_name", validate_credential_name, u"run\u200bner")


# -- extension options ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1.1", "1.1.11", "1.3.63.0", "0.1"])
def test_type_handler_versions_that_pass(version):
    assert validate_type_handler_version(version) == version


@pytest.mark.parametrize("version", ["banana", "1", "1.", "v1.1", "1.1-beta", " 1.1", "1.1.1.1.1", "", "1.*"])
def test_type_handler_versions_refused(version):
    raises_option("type_handler_version", validate_type_handler_version, version)


@pytest.mark.parametrize("value", ["10.0.0.10:3128", "proxy.example.com:8080", "http://proxy.example.com", "https://10.0.0.1:443/",
                                   "HTTP://proxy:3128", "http://[fd00::1]:3128", "[fd00::1]:3128", None, ""])
def test_proxy_addresses_that_pass(value):
    assert validate_proxy_server(value) == value


@pytest.mark.parametrize("value", ["not a proxy at all", "socks5://10.0.0.1:1080", "proxy.example.com", "10.0.0.10:0",
                                   "10.0.0.10:99999", "http://proxy:port", "http://proxy:3128/path", "http://", "300.1.1.1:80",
                                   "http://-proxy:3128", " 10.0.0.1:3128", "::1:3128"])
def test_proxy_addresses_refused(value):
    raises_option("proxy_server", validate_proxy_server, value)


@pytest.mark.parametrize("value", ["http://alice:Pr0xy-S3cret@10.0.0.1:3128", "alice:Pr0xy-S3cret@10.0.0.1:3128"])
def test_credentials_in_the_proxy_address_are_refused_and_hidden(value):
    hidden = []
    msg = raises_option("proxy_server", validate_proxy_server, value, hide=hidden.append)
    assert "Pr0xy-S3cret" not in msg and "alice" not in msg
    assert "proxy_username" in msg and "proxy_password" in msg and "Reader" in msg
    assert "Pr0xy-S3cret" in hidden


def register_params(**kwargs):
    base = dict(state="present", install_extension=True, wait_for_heartbeat=False, wait_timeout=600, heartbeat_timeout=300,
                heartbeat_max_age=90, type_handler_version="1.1", proxy_server=None, proxy_username=None)
    base.update(kwargs)
    return base


@pytest.mark.parametrize("option,value", [("wait_timeout", 0), ("wait_timeout", 86401), ("heartbeat_timeout", -1),
                                          ("heartbeat_max_age", 10 ** 9)])
def test_time_bounds(option, value):
    raises_option(option, validate_register_options, register_params(**{option: value}))


def test_empty_proxy_username_with_a_proxy_is_refused():
    raises_option("proxy_username", validate_register_options, register_params(proxy_server="10.0.0.1:3128", proxy_username=" "))


def test_group_options_check_wait_timeout():
    raises_option("wait_timeout", validate_group_options, {"name": "g", "credential_name": None, "wait_timeout": -1})
    raises_option("credential_name", validate_group_options, {"name": "g", "credential_name": "c" * 300, "wait_timeout": 600})
    validate_group_options({"name": "g", "credential_name": None, "wait_timeout": 600})


# -- connection options -----------------------------------------------------------------------------------------------
def auth_params(**kwargs):
    base = dict((k, None) for k in AZURE_AUTH_ARGSPEC)
    base.update(resource_group="rg", automation_account="hrw-aa", subscription_id=SUB)
    base.update(kwargs)
    return base


def test_empty_secret_is_an_error_not_a_fallback():
    # Before: auth_source auto found no secret and fell back to the Azure CLI / managed identity chain.
    msg = raises_option("secret", resolve_auth, auth_params(client_id=CLIENT, secret="", tenant=TENANT), env={},
                        credentials_path="/nonexistent")
    assert "AZURE_SECRET" in msg and "empty" in msg


def test_empty_secret_from_the_environment_names_the_variable():
    env = {"AZURE_SECRET": "", "AZURE_CLIENT_SECRET": "real-one"}
    msg = raises_option("secret", resolve_auth, auth_params(client_id=CLIENT, secret="", tenant=TENANT), env=env,
                        credentials_path="/nonexistent")
    assert "environment variable AZURE_SECRET" in msg and "real-one" not in msg


@pytest.mark.parametrize("option", ["client_id", "tenant", "subscription_id", "cloud_environment"])
def test_other_empty_credential_options(option):
    values = dict(client_id=CLIENT, secret="s3cr3t", tenant=TENANT)
    values[option] = "  "
    raises_option(option, resolve_auth, auth_params(**values), env={}, credentials_path="/nonexistent")


def test_empty_subscription_with_cli_does_not_take_the_cli_default():
    calls = []
    raises_option("subscription_id", resolve_auth, auth_params(auth_source="cli", subscription_id=""), env={},
                  cli_runner=lambda argv: calls.append(argv) or (0, '{"id": "%s"}' % SUB, ""))
    assert calls == []


def test_options_an_auth_source_does_not_read_may_be_empty():
    config = resolve_auth(auth_params(auth_source="cli", secret="", tenant="", client_id=""), env={})
    assert config.source == "cli"
    config = resolve_auth(auth_params(auth_source="msi", secret=""), env={})
    assert config.source == "msi"


def test_missing_ca_bundle_names_the_variable_and_the_file(tmp_path):
    missing = str(tmp_path / "nope" / "ca.pem")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        with pytest.raises(HrwError) as info:
            resolve_auth(auth_params(client_id=CLIENT, secret="s3cr3t", tenant=TENANT), env={name: missing},
                         credentials_path="/nonexistent")
        assert name in info.value.msg and missing in info.value.msg and "does not exist" in info.value.msg


def test_ca_bundle_variables_as_requests_reads_them(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": str(bundle)}) == str(bundle)
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": str(tmp_path)}) == str(tmp_path)       # a directory of certificates
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": str(bundle)}) == str(bundle)
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": str(bundle), "CURL_CA_BUNDLE": "/missing"}) == str(bundle)  # first one wins
    assert check_ca_bundle({"REQUESTS_CA_BUNDLE": "/missing"}, verify=False) is None      # not read without verification
    assert check_ca_bundle({"SSL_CERT_FILE": "/missing"}) is None                          # requests does not use it


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_ca_bundle(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    bundle.chmod(0)
    with pytest.raises(HrwError) as info:
        check_ca_bundle({"REQUESTS_CA_BUNDLE": str(bundle)})
    assert "cannot read" in info.value.msg
