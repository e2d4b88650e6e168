# STAND-IN FOR LAB TESTS - not Microsoft's HybridWorkerForLinux extension handler.
# Install and remove the stand-in `hwd` worker with the on-host layout of the real V2 extension
# (DOMAIN.md §8): user hweautomation, versioned install dir, settings dir, log dir, state dir, unit hwd.
"""Install/uninstall logic of the HybridWorkerForLinux stand-in, used by the extd stand-in."""

import glob
import json
import os
import pwd
import shutil
import subprocess
import time

import labhttp

PUBLISHER = "Microsoft.Azure.Automation.HybridWorker"
TYPE = "HybridWorkerForLinux"
FULL_NAME = f"{PUBLISHER}.{TYPE}"
WAAGENT_DIR = "/var/lib/waagent"
SETTINGS_DIR = os.path.join(WAAGENT_DIR, FULL_NAME)
LOG_DIR = os.path.join("/var/log/azure", FULL_NAME)
USER = "hweautomation"
HOME = f"/home/{USER}"
STATE_DIR = os.path.join(HOME, "state")
UNIT_NAME = "hwd.service"
UNIT_PATH = os.path.join("/etc/systemd/system", UNIT_NAME)
SOURCE_DIR = "/usr/lib/hrw-lab-standins"
DEFAULT_VERSION = "1.1"
# Azure installs the newest build of the requested major.minor: typeHandlerVersion "1.1" lands in a "-1.1.<build>" folder.
# The stand-in plays build 23, the newest 1.1 build of HybridWorkerForLinux in the emulator's extension image list (what its
# instanceView reports); PowerShell 7.2 and Python 3.10 runbooks need 1.1.11 or later.
STANDIN_BUILD = "23"

UNIT_TEMPLATE = """\
# STAND-IN FOR LAB TESTS - written by the extd stand-in, not by Microsoft's HybridWorkerForLinux extension.
[Unit]
Description=Hybrid Worker Service hwd (stand-in for lab tests)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={user}
Environment=HWD_HEARTBEAT_SECONDS=5
EnvironmentFile=-/etc/environment
EnvironmentFile=-/etc/default/hwd
ExecStart=/usr/bin/python3 {install_dir}/bin/hwd --settings-dir {settings_dir} --state-dir {state_dir} --log-file {log_dir}/hwd.log
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


class InstallError(Exception):
    """The extension could not be installed; the message goes to the agent channel."""


def full_version(requested):
    """'1.1' -> '1.1.23'; a version that already names its build is kept."""
    return requested if requested.count(".") >= 2 else f"{requested}.{STANDIN_BUILD}"


def install_dir(version):
    return os.path.join(WAAGENT_DIR, f"{FULL_NAME}-{version}")


def installed_dirs():
    return sorted(glob.glob(os.path.join(WAAGENT_DIR, f"{FULL_NAME}-*")))


def installed_version():
    dirs = installed_dirs()
    if not dirs or not os.path.exists(UNIT_PATH):
        return None
    return dirs[-1].rsplit("-", 1)[-1]


def systemctl(*args, check=True):
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise InstallError(f"systemctl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--create-home", "--home-dir", HOME, "--shell", "/bin/bash", USER],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise InstallError(f"useradd {USER} failed: {result.stderr.strip()}") from None
    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def write_text(path, text, mode=0o644, owner=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)
    if owner:
        os.chown(path, *owner)


def install(ext, sequence):
    """Install or reconfigure hwd for this extension; return the installed version."""
    version = full_version(ext.get("typeHandlerVersion") or DEFAULT_VERSION)
    settings = ext.get("settings") or {}
    if not settings.get("AutomationAccountURL"):
        raise InstallError("AutomationAccountURL is missing from the extension settings")
    uid, gid = ensure_user()
    target = install_dir(version)
    for other in installed_dirs():
        if other != target:
            shutil.rmtree(other, ignore_errors=True)
    os.makedirs(os.path.join(target, "bin"), exist_ok=True)
    for name in ("hwd", "labhttp.py"):
        shutil.copy2(os.path.join(SOURCE_DIR, name), os.path.join(target, "bin", name))
    os.chmod(os.path.join(target, "bin", "hwd"), 0o755)
    manifest = [{"version": 1.0, "handlerManifest": {
        "installCommand": "bin/hwd --version", "enableCommand": "systemctl enable --now hwd",
        "disableCommand": "systemctl disable --now hwd", "uninstallCommand": "systemctl disable --now hwd",
        "standIn": "stand-in for lab tests"}}]
    write_text(os.path.join(target, "HandlerManifest.json"), json.dumps(manifest, indent=2) + "\n")
    environment = [{"version": 1.0, "handlerEnvironment": {
        "logFolder": LOG_DIR, "configFolder": os.path.join(SETTINGS_DIR, "config"),
        "statusFolder": os.path.join(target, "status")}}]
    write_text(os.path.join(target, "HandlerEnvironment.json"), json.dumps(environment, indent=2) + "\n")
    write_text(os.path.join(target, "mrseq"), f"{sequence}\n")

    config_dir = os.path.join(SETTINGS_DIR, "config")
    os.makedirs(config_dir, exist_ok=True)
    for old in glob.glob(os.path.join(config_dir, "*.settings")):
        os.unlink(old)
    runtime = {"runtimeSettings": [{"handlerSettings": {
        "publicSettings": settings,
        "protectedSettings": ext.get("protectedSettings") or {},
        "protectedSettingsCertThumbprint": None}}]}
    # The real handler receives protected settings encrypted; the stand-in keeps them in a file
    # readable only by root and the worker's group.
    write_text(os.path.join(config_dir, f"{sequence}.settings"), json.dumps(runtime, indent=2) + "\n",
               mode=0o640, owner=(0, gid))

    os.makedirs(LOG_DIR, exist_ok=True)
    log_file = os.path.join(LOG_DIR, "hwd.log")
    if not os.path.exists(log_file):
        write_text(log_file, "", mode=0o640, owner=(uid, gid))
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    os.chown(STATE_DIR, uid, gid)
    with open(os.path.join(LOG_DIR, "extension.log"), "a", encoding="utf-8") as handle:
        handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} enable seq={sequence} version={version}\n")

    write_text(UNIT_PATH, UNIT_TEMPLATE.format(
        user=USER, install_dir=target, settings_dir=SETTINGS_DIR, state_dir=STATE_DIR, log_dir=LOG_DIR))
    systemctl("daemon-reload")
    systemctl("enable", UNIT_NAME)
    systemctl("restart", UNIT_NAME)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if systemctl("is-active", UNIT_NAME, check=False).stdout.strip() == "active":
            break
        time.sleep(0.5)
    else:
        raise InstallError("hwd did not become active within 15 s")
    status = [{"version": 1.0, "timestampUTC": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "status": {"name": FULL_NAME, "operation": "Enable", "status": "success",
                          "formattedMessage": {"lang": "en-US", "message": "hwd stand-in enabled"}}}]
    labhttp.write_json(os.path.join(target, "status", f"{sequence}.status"), status)
    return version


def uninstall():
    """Stop and remove hwd, the install dir and the settings; keep the user, its state and the logs."""
    if os.path.exists(UNIT_PATH):
        systemctl("disable", "--now", UNIT_NAME, check=False)
        os.unlink(UNIT_PATH)
        systemctl("daemon-reload", check=False)
    for path in installed_dirs() + [SETTINGS_DIR]:
        shutil.rmtree(path, ignore_errors=True)
    if os.path.isdir(LOG_DIR):
        with open(os.path.join(LOG_DIR, "extension.log"), "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} uninstall\n")
