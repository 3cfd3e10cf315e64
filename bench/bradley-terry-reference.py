#!/usr/bin/env python3
"""Independent reference for cogen's pairwise ranking: Chatbot Arena's method in NumPy/SciPy.

Bradley-Terry as an unpenalised logistic regression without intercept, the way the Arena
leaderboard notebook sets it up: one row per ordered model pair, features +ln(10) for the first
model and -ln(10) for the second, label 1 weighted by 2*wins + ties and label 0 weighted by
2*losses + ties (so a tie is half a win each way). Fitted with scipy.optimize (L-BFGS-B, analytic
gradient), ratings 400*beta + 1000. Bootstrap: resample battles with replacement (NumPy RNG),
refit, 2.5/97.5 percentiles.

usage: bradley-terry-reference.py BATTLES.csv [--rounds 100] [--seed 0]
Prints one JSON object: models, ratings, ci_lower, ci_upper, seconds and cpu_seconds (excluding
start-up).
"""
import argparse
import csv
import json
import math
import sys
import time

import numpy as np
from scipy.optimize import minimize


def read_battles(path):
    models, index = [], {}
    a_idx, b_idx, outcome = [], [], []
    codes = {"model_a": 0, "model_b": 1, "tie": 2, "both_bad": 2, "tie (bothbad)": 2}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            a, b = row["model_a"], row["model_b"]
            if a == b:  # Arena's fit skips self-comparisons
                continue
            for name in (a, b):
                if name not in index:
                    index[name] = len(models)
                    models.append(name)
            a_idx.append(index[a])
            b_idx.append(index[b])
            outcome.append(codes[row["winner"]])
    return models, np.array(a_idx), np.array(b_idx), np.array(outcome)


def pair_tables(n, cell):
    """n x n matrix W with W[i, j] = 2*(i beat j) + ties(i, j): the notebook's ptbl_win.

    `cell` codes each battle as (a*n + b)*3 + outcome (0: a won, 1: b won, 2: tie)."""
    counts = np.bincount(cell, minlength=n * n * 3).reshape(n, n, 3).astype(float)
    tie = counts[:, :, 2]
    return 2 * counts[:, :, 0] + 2 * counts[:, :, 1].T + tie + tie.T


def fit_logistic(n, table):
    rows_i, rows_j = np.nonzero(table + table.T)
    keep = rows_i != rows_j
    rows_i, rows_j = rows_i[keep], rows_j[keep]
    weight = table[rows_i, rows_j]  # label 1 for row (i, j); its mirror (j, i) carries label 0
    ln10 = math.log(10.0)

    def loss(beta):
        z = ln10 * (beta[rows_i] - beta[rows_j])
        value = np.sum(weight * np.logaddexp(0.0, -z))
        g_row = -weight * ln10 / (1.0 + np.exp(z))
        grad = np.bincount(rows_i, g_row, n) - np.bincount(rows_j, g_row, n)
        return value, grad

    result = minimize(loss, np.zeros(n), jac=True, method="L-BFGS-B", options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": 10000})
    beta = result.x - result.x.mean()
    return 400.0 * beta + 1000.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("battles")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    cpu_start = time.process_time()
    models, a, b, outcome = read_battles(args.battles)
    n = len(models)
    cell = (a * n + b) * 3 + outcome
    ratings = fit_logistic(n, pair_tables(n, cell))
    rng = np.random.default_rng(args.seed)
    samples = np.empty((args.rounds, n))
    for r in range(args.rounds):
        idx = rng.integers(0, len(cell), len(cell))
        samples[r] = fit_logistic(n, pair_tables(n, cell[idx]))
    lower = np.quantile(samples, 0.025, axis=0)
    upper = np.quantile(samples, 0.975, axis=0)
    json.dump(
        {
            "models": models,
            "ratings": ratings.tolist(),
            "ci_lower": lower.tolist(),
            "ci_upper": upper.tolist(),
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu_start,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
