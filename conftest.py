"""Make our custom_components win over the HA test plugin's.

HA finds custom integrations with ``import custom_components``. The ``hass`` fixture of
pytest-homeassistant-custom-component points the config dir at the plugin's own
``testing_config`` and HA mounts it (``loader._async_mount_config_dir``: sys.path.insert(0,
config_dir); import custom_components). If nothing imported ``custom_components`` before, that
finds the plugin's ``testing_config/custom_components`` (a regular package) and lookback is
"not found". Importing ours here, before any test or fixture runs, puts our namespace package
in sys.modules, and HA's later import is a no-op. pytest puts the repo root on sys.path
(``pythonpath`` in pyproject.toml) before it loads this file.
"""

import custom_components.lookback  # noqa: F401
