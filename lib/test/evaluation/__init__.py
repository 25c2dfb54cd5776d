"""Test-time settings (local paths) for the tracker runner."""
from .environment import EnvSettings, SettingsError, dataset_dir, env_settings, settings_from_data_dir

__all__ = ["EnvSettings", "SettingsError", "dataset_dir", "env_settings", "settings_from_data_dir"]
