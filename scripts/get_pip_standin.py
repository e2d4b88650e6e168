"""Offline stand-in for ansible-test's get-pip-<version>.py bootstrap script.

ansible-test runs the cached script as `python get_pip.py [pip options] <packages>` inside a fresh venv.
The real script downloads pip; this one installs pip with ensurepip, then lets that pip install the
requested packages through the machine's normal pip configuration (its index and CA settings).
ensurepip runs in its own process because it points PIP_CONFIG_FILE at /dev/null while it runs.
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade"] + ARGS))
