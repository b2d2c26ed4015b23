"""Build archsearch's compact NAS-Bench-201 table from the merged CSV.

Usage:
    python scripts/build_nb201.py [--csv PATH] [--out PATH]

Reads ``nb201_merged.csv`` (15,625 cells; see its README for provenance) and
writes ``src/archsearch/evaluation/tables/nb201.npz``: rows in official NB201 index
order, float32 columns for the accuracies, Zen scores and 27 device latencies, and
``index_of_cell`` mapping archsearch's cell index (spaces.nb201.arch_index) to the
official index. The package ships the result; nothing reads the CSV at run time.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from archsearch.spaces.nb201 import arch_index, from_arch_str

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "data" / "nb201" / "nb201_merged.csv"
DEFAULT_OUT = ROOT / "src" / "archsearch" / "evaluation" / "tables" / "nb201.npz"

# CSV column -> name in the table
ACCURACY_COLUMNS = {
    "c10_valid_acc_12ep": "cifar10/valid_12",
    "c10_test_acc_12ep": "cifar10/test_12",
    "c10_acc_200ep_naslib": "cifar10/acc_200",
    "c100_valid_acc_12ep": "cifar100/valid_12",
    "c100_test_acc_12ep": "cifar100/test_12",
    "c100_acc_200ep_naslib": "cifar100/acc_200",
    "in16_valid_acc_12ep": "imagenet16-120/valid_12",
    "in16_test_acc_12ep": "imagenet16-120/test_12",
    "in16_acc_200ep_naslib": "imagenet16-120/acc_200",
    "c10_zen_score": "cifar10/zen",
    "c100_zen_score": "cifar100/zen",
    "in16_zen_score": "imagenet16-120/zen",
}


def build(csv_path: Path, out_path: Path) -> None:
    if not csv_path.is_file():
        raise SystemExit(f"build_nb201: no file {csv_path}")
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != 15625:
        raise SystemExit(f"build_nb201: {csv_path} has {len(rows)} rows, expected 15625")
    rows.sort(key=lambda r: int(r["nb201_index"]))
    if [int(r["nb201_index"]) for r in rows] != list(range(15625)):
        raise SystemExit(f"build_nb201: {csv_path}: nb201_index is not 0..15624")
    arrays: dict[str, np.ndarray] = {}
    for column, name in ACCURACY_COLUMNS.items():
        arrays[name] = np.array([float(r[column]) for r in rows], dtype=np.float32)
    for column in rows[0]:
        if column.startswith("lat_"):
            arrays["latency/" + column[4:]] = np.array(
                [float(r[column]) for r in rows], dtype=np.float32
            )
    index_of_cell = np.full(15625, -1, dtype=np.int32)
    for official, row in enumerate(rows):
        index_of_cell[arch_index(from_arch_str(row["arch_str"]))] = official
    if (index_of_cell < 0).any():
        raise SystemExit("build_nb201: some cells are missing from the CSV")
    arrays["index_of_cell"] = index_of_cell
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, **arrays)
    print(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.2f} MB, {len(arrays)} arrays)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    build(args.csv, args.out)


if __name__ == "__main__":
    main()
