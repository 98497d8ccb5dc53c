"""Site configuration of a packaged Mathesar, installed by the launcher before the app starts.

Mathesar reads three optional admin files from its code tree (BASE_DIR): sso.yml,
file_storage.yml and config/settings/local.py. A packaged install keeps the code read-only
and replaced on every upgrade, so admins keep these files in the configuration directory
instead (MATHESAR_CONFIG_DIR: /etc/mathesar, or ~/.config/mathesar for a user install),
and this module wires them in through interfaces Mathesar already has:

- sso.yml and file_storage.yml are read with PyYAML's full_load, as Mathesar reads them,
  and handed over as SSO_CONFIG_DICT and FILE_STORAGE_DICT (JSON), the variables Mathesar
  reads first. A variable the admin set already wins, as in Mathesar.
- local.py is what `import config.settings.local` (the production settings' optional
  site overrides) loads.

A broken file stops the start with exit status 78 (EX_CONFIG) and a message naming it,
rather than Mathesar's behaviour of logging the error and running without SSO.
"""

import importlib.abc
import importlib.util
import json
import os
import sys

EX_CONFIG = 78

# (file name, variable Mathesar reads the same settings from as JSON)
YAML_FILES = (("sso.yml", "SSO_CONFIG_DICT"), ("file_storage.yml", "FILE_STORAGE_DICT"))
LOCAL_SETTINGS_MODULE = "config.settings.local"


def _fail(path, problem, fix):
    sys.stderr.write(f"mathesar: {path}: {problem}; {fix}\n")
    raise SystemExit(EX_CONFIG)


def _load_yaml(path, variable):
    try:
        import yaml
    except ImportError:
        _fail(path, "this bundle has no PyYAML to read it", f"set {variable} (JSON) instead, or remove the file")
    try:
        with open(path, "rb") as f:
            data = yaml.full_load(f)
    except PermissionError:
        _fail(path, f"cannot be read by user id {os.getuid()}", "make it readable by the service: chgrp mathesar FILE && chmod 0640 FILE")
    except yaml.YAMLError as exc:
        _fail(path, f"is not valid YAML ({exc})".replace("\n", " "), "fix the file, or remove it")
    if data is None:
        return None
    if not isinstance(data, dict):
        _fail(path, f"holds a YAML {type(data).__name__}, not a mapping", "see Mathesar's documentation for its format")
    try:
        return json.dumps(data)
    except (TypeError, ValueError) as exc:
        _fail(path, f"holds a value JSON cannot carry ({exc})", "quote dates and other special values as strings")


class _LocalSettingsFinder(importlib.abc.MetaPathFinder):
    """Finds config.settings.local in the configuration directory, not in the code tree."""

    def __init__(self, path):
        self.path = path

    def find_spec(self, fullname, path=None, target=None):
        if fullname != LOCAL_SETTINGS_MODULE or not os.path.exists(self.path):
            return None
        if not os.access(self.path, os.R_OK):
            # Not an ImportError: the settings would take that for "no local.py" and go on
            # without the admin's overrides.
            raise PermissionError(
                f"{self.path} cannot be read by user id {os.getuid()}: make it readable by the "
                "service: chgrp mathesar FILE && chmod 0640 FILE"
            )
        return importlib.util.spec_from_file_location(fullname, self.path)


def install(environ=os.environ):
    """Hands the admin's files in MATHESAR_CONFIG_DIR over to Mathesar."""
    config_dir = environ.get("MATHESAR_CONFIG_DIR", "")
    if not config_dir:
        return
    for name, variable in YAML_FILES:
        path = os.path.join(config_dir, name)
        if not os.path.exists(path):
            continue
        if environ.get(variable, "").strip():
            sys.stderr.write(f"mathesar: warning: {variable} is set, so {path} is ignored\n")
            continue
        value = _load_yaml(path, variable)
        if value is not None:
            environ[variable] = value
    sys.meta_path.insert(0, _LocalSettingsFinder(os.path.join(config_dir, "local.py")))
