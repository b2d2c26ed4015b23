"""Recipes: the registered ones, validation, configs of the recipe space."""

from __future__ import annotations

import random

import pytest

from archsearch.errors import ConfigError
from archsearch.spaces.hpo import hpo_space, joint_space
from archsearch.training import RECIPES, Recipe, cosine_lr


def test_nb201_recipe_is_the_papers() -> None:
    recipe = RECIPES["nb201"]()
    assert (recipe.optimizer, recipe.learning_rate, recipe.momentum, recipe.nesterov) == (
        "sgd",
        0.1,
        0.9,
        True,
    )
    assert (recipe.weight_decay, recipe.batch_size, recipe.label_smoothing) == (5e-4, 256, 0.0)
    assert recipe.augment and recipe.epochs == 200


def test_adamw_recipe() -> None:
    recipe = RECIPES["adamw"](epochs=12)
    assert (recipe.optimizer, recipe.learning_rate, recipe.weight_decay, recipe.epochs) == (
        "adamw",
        1e-3,
        0.05,
        12,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("optimizer", "rmsprop", "recipe.optimizer: unknown 'rmsprop'; allowed: sgd, adamw"),
        ("learning_rate", 0.0, r"recipe.learning_rate: must be a number in \(0, inf\], got 0.0"),
        ("dropout", 1.0, r"recipe.dropout: must be a number in \[0, 1\), got 1.0"),
        ("batch_size", 0, "recipe.batch_size: must be an integer >= 1, got 0"),
        ("epochs", 2.5, "recipe.epochs: must be an integer >= 1, got 2.5"),
        ("augment", "yes", "recipe.augment: must be true or false, got 'yes'"),
    ],
)
def test_recipe_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Recipe().from_config({field: value})


def test_integral_float_epochs_become_an_int() -> None:
    assert Recipe(epochs=12.0).epochs == 12  # type: ignore[arg-type]


def test_from_config_names_an_unknown_field() -> None:
    with pytest.raises(ConfigError, match="recipe.lr: unknown field; allowed: optimizer, "):
        Recipe().from_config({"lr": 0.1})


def test_every_sample_of_the_recipe_space_is_a_valid_recipe() -> None:
    space = hpo_space()
    for seed in range(20):
        recipe = Recipe().from_config(space.sample(seed=seed))
        assert 1e-4 <= recipe.learning_rate <= 1.0 and recipe.epochs in (12, 25, 50, 100, 200)


def test_cosine_lr_goes_from_base_to_zero() -> None:
    assert cosine_lr(0.1, 0, 100) == 0.1
    assert cosine_lr(0.1, 50, 100) == pytest.approx(0.05)
    assert cosine_lr(0.1, 100, 100) == 0.0


def test_joint_space_takes_names_options_and_spaces() -> None:
    joint = joint_space({"name": "nb201", "ops": ["none", "nor_conv_3x3"]}, "hpo")
    assert joint.name == "nb201+hpo"
    config = joint.sample(seed=1)
    assert set(config["arch"].values()) <= {"none", "nor_conv_3x3"}
    mutated = joint.mutate(config, random.Random(0))
    assert mutated != config and joint.validate(mutated) == mutated
    assert joint.from_genome([gene.index for gene in joint.genome(config)]) == config


def test_hpo_space_fixes_an_int_and_refuses_bad_options() -> None:
    config = hpo_space(epochs=12, batch_size=[128], optimizers=["adamw"]).sample(seed=0)
    assert (config["epochs"], config["batch_size"], config["optimizer"]) == (12, 128, "adamw")
    with pytest.raises(ConfigError, match="optimizers: expected a list from sgd, adamw"):
        hpo_space(optimizers=["lamb"])
    with pytest.raises(ConfigError, match=r"epochs: expected an integer or a list of integers"):
        hpo_space(epochs=[0, 12])
    with pytest.raises(ConfigError, match=r"learning_rate: expected \[low, high\]"):
        hpo_space(learning_rate=0.1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="arch: unknown space 'nb999'"):
        joint_space("nb999")
