"""The model card: written into each published version, checked like the model, every section."""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import shutil
from html.parser import HTMLParser

import pytest

from export.__main__ import main as export_main
from export.card import SECTIONS, category_counts, render_card
from model_store.store import (
    CARD_FILE,
    MANIFEST_KEY,
    VERSIONS_DIR,
    IntegrityError,
    ModelStore,
    StoreError,
    sha256_hex,
)
from train.run_files import RUN_FILE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class CardParser(HTMLParser):
    """Section ids, image sources, every URL the page would fetch, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.fetched: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section":
            self.sections.append(attributes["id"])
        if tag == "img":
            self.images.append(attributes["src"])
        for name in ("src", "href"):
            if name in attributes and not attributes[name].startswith("data:"):
                self.fetched.append(attributes[name])

    def handle_data(self, data):
        self.text.append(data)


def parse(card: bytes) -> CardParser:
    parser = CardParser()
    parser.feed(card.decode("utf-8"))
    return parser


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> tuple[ModelStore, str]:
    """The session's tiny run published by `python -m export` into a store of this module's."""
    store = ModelStore(tmp_path_factory.mktemp("card") / "store")
    with contextlib.redirect_stdout(io.StringIO()):
        assert export_main([str(trained_run.path), "--store", str(store.root)]) == 0
    return store, store.current_version()


@pytest.fixture(scope="module")
def card(exported) -> CardParser:
    store, version = exported
    return parse(store.card(version))


def test_publish_writes_the_card_into_the_version_listed_in_the_manifest(exported):
    store, version = exported
    path = store.root / VERSIONS_DIR / version / CARD_FILE
    assert store.metadata(version)[MANIFEST_KEY][CARD_FILE] == sha256_hex(path.read_bytes())
    assert store.card(version) == path.read_bytes()


def test_the_card_has_every_section_in_order(card):
    assert card.sections == list(SECTIONS)


def test_the_card_is_self_contained(card):
    assert card.fetched == []
    assert len(card.images) == 2  # predicted vs actual, error by group
    for source in card.images:
        header, data = source.split(",", 1)
        assert header == "data:image/png;base64"
        assert base64.b64decode(data).startswith(PNG_SIGNATURE)


def test_the_card_names_the_version_the_data_and_its_sha256(exported, card):
    store, version = exported
    metadata = store.metadata(version)
    text = " ".join(card.text)
    assert version in text
    assert metadata["training_data"]["sha256"] in text
    assert f"{metadata['training_data']['rows']} students" in text


def test_the_card_lists_every_candidate_and_the_holdout_metrics(exported, card):
    store, version = exported
    metadata = store.metadata(version)
    text = " ".join(card.text)
    assert all(row["name"] in text for row in metadata["leaderboard"])
    assert f"{metadata['metrics']['holdout_mae']:.3f}" in text
    assert f"{metadata['metrics']['holdout_r2']:.3f}" in text


def test_the_card_shows_every_groups_error(exported, card):
    store, version = exported
    text = " ".join(card.text)
    for field, values in store.metadata(version)["group_errors"]["holdout"].items():
        for value, row in values.items():
            assert f"{field} {value} {row['count']} {row['mae']:.3f} {row['bias']:.3f}" in " ".join(
                text.split()
            )


def test_category_counts_add_holdout_and_training_rows(exported):
    store, version = exported
    metadata = store.metadata(version)
    for values in category_counts(metadata).values():
        assert sum(values.values()) == metadata["training_data"]["rows"]


def intervals() -> dict:
    """An `intervals` entry in the shared metadata format."""
    return {
        "method": "split-conformal: absolute out-of-fold residuals on the training split",
        "half_widths": {"80": 5.5, "90": 7.25, "95": 8.75},
        "holdout_coverage": {"80": 0.8125, "90": 0.9, "95": 0.95},
        "holdout_rows": 80,
        "tolerance": {"80": 0.13, "90": 0.1, "95": 0.07},
    }


def test_interval_coverage_is_shown_when_the_metadata_has_intervals(exported):
    store, version = exported
    metadata = copy.deepcopy(store.metadata(version))
    metadata["intervals"] = intervals()
    text = " ".join(" ".join(parse(render_card(metadata, [50.0], [52.0])).text).split())
    assert "90% 7.250 0.900" in text
    assert "split-conformal" in text


def test_the_card_shows_each_intervals_holdout_coverage(card, exported):
    store, version = exported
    text = " ".join(card.text)
    for level, coverage in store.metadata(version)["intervals"]["holdout_coverage"].items():
        assert f"{level}% " in text and f"{coverage:.3f}" in text


def test_an_altered_card_is_refused(exported, corrupt, tmp_path):
    store, version = exported
    copy_store = ModelStore(tmp_path / "store")
    model = store.load(version)
    copied = copy_store.publish(
        model.onnx_bytes, model.metadata, card=lambda m: store.card(version)
    )
    corrupt(copy_store.root / VERSIONS_DIR / copied / CARD_FILE)
    with pytest.raises(IntegrityError, match="was altered or corrupted"):
        copy_store.card(copied)


def test_a_version_published_without_a_card_says_how_to_get_one(exported, tmp_path):
    store, version = exported
    model = store.load(version)
    bare = ModelStore(tmp_path / "store")
    published = bare.publish(model.onnx_bytes, model.metadata)
    with pytest.raises(StoreError, match="has no model card"):
        bare.card(published)


def test_a_card_that_fails_to_render_publishes_nothing(exported, tmp_path):
    store, version = exported
    model = store.load(version)
    target = ModelStore(tmp_path / "store")

    def broken(metadata: dict) -> bytes:
        raise ValueError("no card today")

    with pytest.raises(ValueError, match="no card today"):
        target.publish(model.onnx_bytes, model.metadata, card=broken)
    assert target.versions() == []
    assert list((tmp_path / "store" / VERSIONS_DIR).iterdir()) == []


def test_export_refuses_a_run_from_before_group_errors(trained_run, tmp_path, capsys):
    old_run = tmp_path / "old-run"
    shutil.copytree(trained_run.path, old_run)
    run = json.loads((old_run / RUN_FILE).read_text(encoding="utf-8"))
    del run["group_errors"]
    (old_run / RUN_FILE).write_text(json.dumps(run), encoding="utf-8")
    assert export_main([str(old_run), "--store", str(tmp_path / "store")]) == 1
    err = capsys.readouterr().err
    assert "no group_errors" in err and "train again" in err
    assert ModelStore(tmp_path / "store").versions() == []
