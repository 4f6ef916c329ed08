"""API keys: the configured hashes, the constant-time lookup, the settings and the key maker."""

from __future__ import annotations

import re

import pytest

from server.config import ConfigError, load_settings
from server.keys import (
    KeyRing,
    configuration_entry,
    key_digest,
    main,
    open_mode_warning,
    parse_key_hashes,
)

KEY_A = "a" * 43
KEY_B = "b" * 43


def ring(*pairs: tuple[str, str]) -> KeyRing:
    return parse_key_hashes(",".join(configuration_entry(name, key) for name, key in pairs))


def test_each_configured_key_is_known_by_its_name():
    keys = ring(("district", KEY_A), ("scraper", KEY_B))
    assert keys.names == ["district", "scraper"]
    assert keys.name_of(KEY_A) == "district"
    assert keys.name_of(KEY_B) == "scraper"


@pytest.mark.parametrize("key", ["", "a" * 42, KEY_A + " ", KEY_A.upper(), "a" * 10_000])
def test_anything_but_a_configured_key_has_no_name(key):
    assert ring(("district", KEY_A)).name_of(key) is None


def test_the_ring_holds_hashes_only():
    keys = ring(("district", KEY_A))
    assert keys.digests == (("district", key_digest(KEY_A)),)
    assert KEY_A.encode() not in repr(keys).encode()


def test_whitespace_and_empty_entries_are_ignored():
    digest = key_digest(KEY_A).hex()
    assert parse_key_hashes(f" , district : {digest} ,\n").names == ["district"]
    assert not parse_key_hashes("")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("district", "entry 1 is not NAME:SHA256"),
        (f"ok:{'0' * 64},bad name:{'1' * 64}", "entry 2 is not NAME:SHA256"),
        ("district:" + "0" * 63, "entry 1 is not NAME:SHA256"),
        ("district:" + "g" * 64, "entry 1 is not NAME:SHA256"),
        (":" + "0" * 64, "entry 1 is not NAME:SHA256"),
        (f"a:{'0' * 64},a:{'1' * 64}", "the name 'a' is given twice"),
        (f"a:{'0' * 64},b:{'0' * 64}", "the same hash is given under two names"),
    ],
)
def test_bad_syntax_says_which_entry_and_what_it_should_be(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_key_hashes(text)


def test_bad_key_settings_name_the_variable(tmp_path):
    for variable in ("API_KEY_SHA256S", "METRICS_API_KEY_SHA256S"):
        with pytest.raises(ConfigError, match=f"^{variable}: entry 1 is not NAME:SHA256"):
            load_settings({"MODEL_STORE_DIR": str(tmp_path), variable: "oops"})


def test_settings_hold_both_key_sets(tmp_path):
    env = {
        "MODEL_STORE_DIR": str(tmp_path),
        "API_KEY_SHA256S": configuration_entry("district", KEY_A),
        "METRICS_API_KEY_SHA256S": configuration_entry("scraper", KEY_B),
    }
    settings = load_settings(env)
    assert settings.api_keys.name_of(KEY_A) == "district"
    assert settings.metrics_keys.name_of(KEY_B) == "scraper"
    assert settings.api_keys.name_of(KEY_B) is None


def test_required_keys_without_keys_stop_the_start_saying_what_to_set(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_settings({"MODEL_STORE_DIR": str(tmp_path), "REQUIRE_API_KEYS": "true"})
    message = str(raised.value)
    assert "\n" not in message
    assert "REQUIRE_API_KEYS=true but API_KEY_SHA256S is empty" in message
    assert "python -m server.keys new NAME" in message


def test_required_keys_with_keys_start(tmp_path):
    env = {
        "MODEL_STORE_DIR": str(tmp_path),
        "REQUIRE_API_KEYS": "TRUE",
        "API_KEY_SHA256S": configuration_entry("district", KEY_A),
    }
    assert load_settings(env).api_keys.names == ["district"]


def test_require_api_keys_is_true_or_false(tmp_path):
    with pytest.raises(ConfigError, match="REQUIRE_API_KEYS='yes' must be true or false"):
        load_settings({"MODEL_STORE_DIR": str(tmp_path), "REQUIRE_API_KEYS": "yes"})


def test_open_mode_warns_and_keyed_mode_does_not():
    warning = open_mode_warning(KeyRing())
    assert "NO API KEYS CONFIGURED" in warning and "API_KEY_SHA256S" in warning
    assert open_mode_warning(ring(("district", KEY_A))) is None


def printed_entry(output: str) -> tuple[str, str, str]:
    """(key, variable, entry) from `python -m server.keys new`'s output."""
    lines = [line.strip() for line in output.splitlines()]
    key = lines[1]
    variable, _, entry = lines[3].partition("=")
    return key, variable, entry


def test_new_prints_a_random_key_and_the_line_that_accepts_it(capsys):
    assert main(["new", "district-sis"]) == 0
    key, variable, entry = printed_entry(capsys.readouterr().out)
    assert variable == "API_KEY_SHA256S"
    assert len(key) >= 43
    assert parse_key_hashes(entry).name_of(key) == "district-sis"
    assert main(["new", "district-sis"]) == 0
    assert printed_entry(capsys.readouterr().out)[0] != key


def test_new_metrics_key_is_for_the_metrics_variable(capsys):
    main(["new", "--metrics", "prometheus"])
    key, variable, entry = printed_entry(capsys.readouterr().out)
    assert variable == "METRICS_API_KEY_SHA256S"
    assert parse_key_hashes(entry).name_of(key) == "prometheus"


def test_new_refuses_a_name_the_log_could_not_hold(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["new", "two words"])
    assert raised.value.code == 2
    assert "use up to 32 letters" in capsys.readouterr().err
