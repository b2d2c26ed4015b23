"""Real training: recipes, data on the device, a resumable classification trainer."""

from archsearch.training._checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from archsearch.training._device import DeviceData, resolve_device
from archsearch.training._recipe import OPTIMIZERS, RECIPES, Recipe, adamw_recipe, nb201_recipe
from archsearch.training._run import TrainingRun, add_dropout, cosine_lr
from archsearch.training._trainer import Trainer, seeded_build

__all__ = [
    "OPTIMIZERS",
    "RECIPES",
    "DeviceData",
    "Recipe",
    "Trainer",
    "TrainingRun",
    "adamw_recipe",
    "add_dropout",
    "cosine_lr",
    "latest_checkpoint",
    "load_checkpoint",
    "nb201_recipe",
    "resolve_device",
    "save_checkpoint",
    "seeded_build",
]
