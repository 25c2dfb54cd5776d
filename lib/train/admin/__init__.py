"""Training-side local settings (paths): env_settings(), settings_from_data_dir()."""
from .environment import EnvironmentSettings, env_settings, settings_from_data_dir

__all__ = ["EnvironmentSettings", "env_settings", "settings_from_data_dir"]
