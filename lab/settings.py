"""Settings of the lab itself (env prefix LAB_): where it keeps state, logs and results."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class LabSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAB_")

    state_dir: Path = Path(".lab")
    results_dir: Path = Path("results")
    startup_timeout_s: float = 30.0
    stop_timeout_s: float = 10.0
