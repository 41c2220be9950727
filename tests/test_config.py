"""Config loading: defaults, overrides, and bad configs located at file:line:column."""
from __future__ import annotations

import pytest
import yaml

from nntrain.config import dump_config, load_config
from nntrain.errors import ConfigError

from conftest import CONFIGS

GOOD = """\
data:
  name: xor
model:
  input_shape: [2]
  layers:
    - {type: dense, units: 4, activation: tanh}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: adam
"""


def test_defaults_are_filled_in(write):
    cfg = load_config(write("c.yaml", GOOD))
    assert cfg.seed == 0 and cfg.train.epochs == 1 and cfg.train.batch_size == 32
    assert cfg.optimizer == {"type": "adam", "lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    assert cfg.loss == {"type": "binary_crossentropy", "from_logits": False}
    assert cfg.data.validation_split == 0.0 and cfg.metrics == []


def test_overrides_parse_yaml_and_reach_lists_and_bare_names(write):
    cfg = load_config(write("c.yaml", GOOD), ["optimizer.lr=3e-4", "model.layers.0.units=16",
                                               "train.batch_size=full", "train.epochs=7", "metrics=[accuracy]"])
    assert cfg.optimizer["lr"] == 3e-4 and isinstance(cfg.optimizer["lr"], float)
    assert cfg.model.layers[0]["units"] == 16
    assert cfg.train.batch_size == "full" and cfg.train.epochs == 7
    assert cfg.metrics == [{"type": "accuracy"}]


def test_scientific_numbers_in_the_file_are_numbers(write):
    cfg = load_config(write("c.yaml", GOOD.replace("optimizer: adam", "optimizer: {type: adam, lr: 1e-3}")))
    assert cfg.optimizer["lr"] == 0.001


def test_resolved_config_round_trips(write, tmp_path):
    cfg = load_config(write("c.yaml", GOOD), ["train.epochs=3"])
    again = load_config(write("resolved.yaml", dump_config(cfg)))
    assert dump_config(again) == dump_config(cfg)
    assert yaml.safe_load(dump_config(cfg))["train"]["epochs"] == 3


def test_relative_data_paths_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("a,b\n1,0\n")
    path = tmp_path / "sub" / "c.yaml"
    path.write_text(GOOD.replace("name: xor", "train: d.csv"))
    assert load_config(path).data.train == str(tmp_path / "sub" / "d.csv")


BAD = [
    ("unknown layer", GOOD.replace("type: dense, units: 4", "type: dence, units: 4"),
     r"c\.yaml:6:7: model\.layers\.0: unknown layer 'dence' \(did you mean 'dense'\?\)"),
    ("unknown key", GOOD + "trian: {epochs: 3}\n", r"c\.yaml:10:1: trian: unknown key 'trian' \(did you mean 'train'\?\)"),
    ("unknown nested key", GOOD + "train: {epoch: 3}\n", r"train\.epoch: unknown key 'epoch' \(did you mean 'epochs'\?\)"),
    ("wrong type", GOOD + "train: {epochs: three}\n", r"train\.epochs: must be an integer >= 1, got 'three'"),
    ("negative lr", GOOD.replace("optimizer: adam", "optimizer: {type: adam, lr: -0.1}"), r"c\.yaml:9:\d+: optimizer: .*lr must be > 0"),
    ("missing data file", GOOD.replace("name: xor", "train: nowhere.csv"), r"data\.train: file not found: .*nowhere\.csv"),
    ("shapes do not chain", GOOD.replace("input_shape: [2]", "input_shape: [2, 3]"),
     r"model\.layers\.0: dense with input shape \[2, 3\]: dense expects flat input"),
    ("units -3", GOOD.replace("units: 4", "units: -3"), r"model\.layers\.0: .*units must be a positive integer, got -3"),
    ("dropout 1.5", GOOD.replace("    - {type: dense, units: 1", "    - {type: dropout, rate: 1.5}\n    - {type: dense, units: 1"),
     r"model\.layers\.1: .*rate must be a number in \[0, 1\), got 1\.5"),
    ("batch 0", GOOD + "train: {batch_size: 0}\n", r"train\.batch_size: must be a positive integer or 'full'"),
    ("yaml syntax", GOOD + "train: {epochs: [\n", r"c\.yaml:\d+:\d+: invalid YAML"),
    ("empty", "", r"the config is empty"),
    ("a list", "- 1\n- 2\n", r"must be a mapping of sections"),
    ("missing loss", GOOD.replace("loss: binary_crossentropy\n", ""), r"loss: is required"),
    ("unknown loss", GOOD.replace("loss: binary_crossentropy", "loss: binary_crossentropyy"), r"did you mean 'binary_crossentropy'"),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", r"more than 100,000 values"),
]


@pytest.mark.parametrize("name, text, message", BAD, ids=[b[0] for b in BAD])
def test_bad_configs_are_located_errors(write, name, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write("c.yaml", text))


@pytest.mark.parametrize("override, message", [
    ("train.epochs", r"--set expects KEY=VALUE"),
    ("=3", r"--set expects KEY=VALUE"),
    ("model.layers.5.units=3", r"model\.layers\.5 is out of range, the list has 2 items"),
    ("train.epoch=3", r"--set train\.epoch=3: train\.epoch: unknown key 'epoch' \(did you mean 'epochs'\?\)"),
    ("train.epochs=[1", r"not valid YAML"),
    ("seed.x=1", r"seed is an integer, not a mapping"),
])
def test_bad_overrides(write, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write("c.yaml", GOOD + "seed: 1\n"), [override])


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_override_refines_the_default_optimizer(write):
    text = GOOD.replace("optimizer: adam\n", "")
    cfg = load_config(write("c.yaml", text), ["optimizer.lr=0.01"])
    assert cfg.optimizer["type"] == "adam" and cfg.optimizer["lr"] == 0.01


# -- YAML that PyYAML takes silently or fails on without a position (issue 13, part G) ------
def test_merge_keys_work_whatever_the_value_format(write):
    cfg = load_config(write("c.yaml", GOOD.replace("optimizer: adam", """\
optimizer:
  <<: [{type: adam, beta_1: 0.5, beta_2: 0.9}, {lr: 1e-1, epsilon: 1e-3}]
  beta_1: 0.8
train: &defaults {epochs: 2}
""")))
    # own keys win; scientific numbers in a merged mapping are numbers too
    assert cfg.optimizer == {"type": "adam", "lr": 0.1, "beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-3}
    assert cfg.train.epochs == 2


@pytest.mark.parametrize("text, line, message", [
    ("train: {epochs: 3}\ntrain: {batch_size: 2}\n", 11, "'train' is given twice in this mapping (first at line 10)"),
    ("train:\n  epochs: 3\n  epochs: 4\n", 12, "'epochs' is given twice in this mapping (first at line 11)"),
    ("1: x\n", 10, "a key must be a name, got '1'"),
    ("? [a]\n: b\n", 10, "a key must be a name, got 'a collection'"),
    ("seed: !!int zero\n", 10, "'zero' is not a valid int"),
    ("seed: !!python/object/apply:os.system [echo hi]\n", 10, "unsupported YAML tag tag:yaml.org,2002:python/object/apply"),
    ("seed: !!python/name:os.system ''\n", 10, "could not determine a constructor"),
])
def test_yaml_that_would_be_misread_is_an_error_at_its_line(write, text, line, message):
    path = write("c.yaml", GOOD + text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:{line}:") and message in str(info.value)


@pytest.mark.parametrize("args, message", [
    (("check", "c.yaml", "--set", "train.epochs=!!int zero"), "--set train.epochs=!!int zero: the value is not valid YAML"),
    (("check", "c.yaml", "--set", "loss=!!python/object/apply:os.system [ls]"), "could not determine a constructor"),
    (("sweep", "c.yaml", "--grid", "train.epochs=!!int zero,2"), "--grid train.epochs=!!int zero,2: the values are not valid YAML"),
])
def test_failing_tags_on_the_command_line_are_one_error_line(write, cli, args, message):
    write("c.yaml", GOOD)
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("override, message", [
    ("data.options.noise=.inf", "data.options: dataset 'spirals': noise must be a finite number, got inf"),
    ("model.layers.0.activation={type: leaky_relu, negative_slope: .nan}",
     "model.layers.0: layer 'leaky_relu': negative_slope must be a finite number, got nan"),
    ("model.layers.0.kernel_regularizer={l2: .inf}", "layer 'dense': kernel_regularizer must be a finite number, got inf"),
    ("optimizer.schedule={type: step, gamma: .inf}", "schedule 'step': gamma must be a finite number, got inf"),
])
def test_nan_and_inf_in_a_registry_spec_are_bad_input_not_divergence(cli, tmp_path, override, message):
    r = cli("fit", CONFIGS / "spirals.yaml", "--set", override, "--run-dir", tmp_path / "run")
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "run").exists()
