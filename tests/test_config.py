from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from balancedbio.config import config_hash, describe, load_config, option, parse_overrides, to_dict
from balancedbio.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    lr: float = option(1e-4, "learning rate", min=0.0, min_exclusive=True)
    method: str = option("bft", "objective", choices=("nll", "dft", "bft"))
    tags: list[str] = option([], "free tags")


@dataclass(frozen=True)
class Outer:
    seed: int = option(0, "seed", min=0)
    name: str | None = option(None, "optional name")
    train: Inner = option(Inner(), "training")

    def __post_init__(self):
        if self.name == "forbidden":
            raise ValueError("name may not be 'forbidden'")


def write(tmp_path, text):
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_defaults_and_yaml_and_overrides(tmp_path):
    p = write(tmp_path, "seed: 3\ntrain:\n  lr: 1e-3\n  tags: [a, b]\n")
    cfg = load_config(Outer, p, ["train.method=dft", "name=run1"])
    assert cfg.seed == 3 and cfg.name == "run1"
    assert cfg.train.lr == pytest.approx(1e-3)  # YAML 1.1 reads 1e-3 as a string; we accept it
    assert cfg.train.method == "dft" and cfg.train.tags == ["a", "b"]
    assert load_config(Outer) == Outer()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 4


def test_unknown_key_names_file_line_and_suggestion(tmp_path):
    p = write(tmp_path, "seed: 1\ntrain:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(Outer, p)
    msg = str(exc.value)
    assert f"{p}:3" in msg and "train.lrr" in msg and "train.lr" in msg and "\n" not in msg


@pytest.mark.parametrize("text,key", [
    ("seed: abc\n", "seed"),
    ("seed: -1\n", "seed"),
    ("seed: true\n", "seed"),
    ("train:\n  lr: 0\n", "train.lr"),
    ("train:\n  method: sft\n", "train.method"),
    ("train: 5\n", "train"),
    ("train:\n  tags: notalist\n", "train.tags"),
])
def test_bad_values_rejected_with_key(tmp_path, text, key):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        load_config(Outer, p)


def test_post_init_errors_become_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="forbidden"):
        load_config(Outer, None, ["name=forbidden"])


def test_invalid_yaml_and_missing_file(tmp_path):
    p = write(tmp_path, "seed: [1,\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(Outer, p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="top level"):
        load_config(Outer, write(tmp_path, "- 1\n- 2\n"))


def test_yaml_is_loaded_safely(tmp_path):
    p = write(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(Outer, p)


def test_overrides_parsing_and_helpers():
    assert parse_overrides(["a.b=1", "a.c=x", "d=[1, 2]"]) == {"a": {"b": 1, "c": "x"}, "d": [1, 2]}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["novalue"])
    cfg = Outer()
    assert to_dict(cfg)["train"]["method"] == "bft"
    assert config_hash(cfg) == config_hash(Outer()) != config_hash(Outer(seed=1))
    keys = [row[0] for row in describe(Outer)]
    assert "train.lr" in keys and all(row[3] for row in describe(Outer))


def test_an_override_error_names_the_override_not_the_yaml_line(tmp_path):
    p = write(tmp_path, "seed: 1\ntrain:\n  lr: 1e-3\n  method: bft\n")
    with pytest.raises(ConfigError) as exc:
        load_config(Outer, p, ["train.lr=fast"])
    msg = str(exc.value)
    assert msg.startswith("command-line override 'train.lr=fast': key 'train.lr'") and f"{p}:3" not in msg
    with pytest.raises(ConfigError, match=r"override 'train=\{method: sft\}': key 'train.method'"):
        load_config(Outer, p, ["train={method: sft}"])
    # an error in the file itself still names the file's line
    with pytest.raises(ConfigError, match=f"{p}:4: key 'train.method'"):
        load_config(Outer, write(tmp_path, "seed: 1\ntrain:\n  lr: 1e-3\n  method: sft\n"), ["seed=2"])


def test_pipeline_override_error_names_the_override(tmp_path):
    from balancedbio.pipeline import load_pipeline_config

    p = write(tmp_path, "name: r\nseed: 1\n")
    with pytest.raises(ConfigError, match="^command-line override 'seed=-3': key 'seed'"):
        load_pipeline_config(p, ["seed=-3"])


@pytest.mark.parametrize("text,line", [
    ("seed: 1\ntrain\nname: x\n", 2),                     # a key without ':'
    ("seed: 1\ntrain: [1, 2\nname: x\n", 2),              # an unclosed bracket
    ("seed: 1\nname: 'x\n", 2),                           # an unclosed quote
    ("seed: 1\nname: a: b\n", 2),
    ("seed: 1\n  name: x\nfoo: 2\n", 2),
    ("seed: 1\nname: x\n\tfoo: 3\n", 3),
])
def test_yaml_syntax_error_names_the_line_of_the_mistake(tmp_path, text, line):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(Outer, p)
    assert str(exc.value).startswith(f"{p}:{line}: invalid YAML"), str(exc.value)
