"""Settings from the environment: defaults, overrides, and errors naming the variable."""

from __future__ import annotations

import pytest

from server.config import ConfigError, hand_over_version, load_settings


def test_defaults_bind_elastic_beanstalks_port_with_a_worker_per_core(tmp_path):
    settings = load_settings({"MODEL_STORE_DIR": str(tmp_path)})
    assert (settings.port, settings.workers, settings.ort_threads) == (8000, 2, 1)
    assert (settings.max_body_bytes, settings.max_rows) == (16 * 1024 * 1024, 100_000)
    assert settings.drift_counts


def test_drift_counting_can_be_switched_off(tmp_path):
    env = {"MODEL_STORE_DIR": str(tmp_path), "DRIFT_COUNTS": "false"}
    assert not load_settings(env).drift_counts
    assert load_settings({**env, "DRIFT_COUNTS": "True"}).drift_counts


def test_port_and_limits_come_from_the_environment(tmp_path):
    env = {
        "MODEL_STORE_DIR": str(tmp_path),
        "PORT": "9001",
        "MAX_ROWS": "10",
        "MODEL_VERSION": "v1",
    }
    settings = load_settings(env)
    assert (settings.port, settings.max_rows, settings.model_version) == (9001, 10, "v1")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "http", "PORT='http' is not a whole number"),
        ("PORT", "70000", "PORT='70000' must be between 1 and 65535"),
        ("MAX_BODY_BYTES", "0", "MAX_BODY_BYTES='0' must be between 1"),
        ("ORT_INTRA_OP_THREADS", "-1", "ORT_INTRA_OP_THREADS='-1' must be between 1"),
        ("DRIFT_COUNTS", "off", "DRIFT_COUNTS='off' must be true or false"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"MODEL_STORE_DIR": str(tmp_path), name: value})


def test_a_missing_store_folder_is_named(tmp_path):
    with pytest.raises(ConfigError, match="MODEL_STORE_DIR=.*is not a folder"):
        load_settings({"MODEL_STORE_DIR": str(tmp_path / "nope")})


def test_workers_serve_the_version_the_master_handed_over(tmp_path):
    env = {"MODEL_STORE_DIR": str(tmp_path), "MODEL_VERSION": "pinned"}
    assert load_settings(env).served_version == "pinned"
    hand_over_version("verified", env)
    assert load_settings(env).served_version == "verified"
