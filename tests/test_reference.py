"""docs/reference.md is generated from the code and must be regenerated when the code changes."""
from __future__ import annotations

import dataclasses

from nntrain.config import schema
from nntrain.config.catalogue import KINDS
from nntrain.config.reference import COMMAND, markdown_reference

from conftest import REPO

DOC = REPO / "docs" / "reference.md"


def test_committed_reference_is_up_to_date():
    assert DOC.is_file(), f"docs/reference.md is missing; generate it: {COMMAND}"
    assert DOC.read_text() == markdown_reference(), f"docs/reference.md is out of date; regenerate it: {COMMAND}"


def test_every_registry_entry_and_parameter_is_documented():
    text = markdown_reference()
    for kind, registry in KINDS.items():
        assert f"## {kind.capitalize()}" in text
        for name in registry.names():
            section = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
            for p in registry.params(name):
                assert f"| `{p.name}` |" in section, (kind, name, p.name)


def test_every_config_key_is_documented():
    text = markdown_reference()
    for f in dataclasses.fields(schema.TrainConfig):
        assert f"| `train.{f.name}` |" in text
    assert "| `train.epochs` | `1` | passes over the training set |" in text
    assert "| `optimizer` | `{type: adam}` |" in text


def test_cli_prints_the_same_markdown(cli):
    result = cli("list", "--format", "markdown")
    assert result.exit_code == 0 and result.stdout == markdown_reference()
    one = cli("list", "losses", "--format", "markdown")
    assert one.stdout.startswith("## Losses") and "### `mse`" in one.stdout and "## Layers" not in one.stdout
    bad = cli("list", "--format", "html")
    assert bad.exit_code == 2 and "table or markdown" in bad.stderr


def test_the_keys_every_optimizer_and_schedule_share_are_in_the_reference():
    from nntrain.nn.optimizers.base import COMMON_OPTIONS
    from nntrain.nn.optimizers.schedules import TIMING_OPTIONS

    for kind, keys in (("optimizers", COMMON_OPTIONS), ("schedules", TIMING_OPTIONS)):
        text = markdown_reference(kind)
        assert "also takes these keys" in text
        for key in keys:
            assert f"| `{key}` |" in text, (kind, key)
    assert "also takes these keys" not in markdown_reference("layers")
