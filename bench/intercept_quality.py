"""How well the intercept score agrees with human labels of underspecified issues.

Reads ``../shared/data/intercept_calibration.jsonl`` (145 SWE-bench issues
labelled 0..3 for how underspecified they are; see that folder's README) and
prints, by stratified 5-fold cross-validation repeated over several seeds:

- ROC AUC of the score for well specified (label <= 1) against
  underspecified (>= 2): Mann-Whitney, ties counted one half;
- Spearman correlation of the score with ``3 - label``;

each with a 95% bootstrap interval, for the score with weights fitted on the
training folds only, the fixed-direction score (reasoned default weights, no
fit), and the length baseline ``min(1, len/2000)`` on the same rows.

It then reads ``intercept_more.jsonl`` (SWE-bench Lite and Verified issues,
selected by how they are written and by these very labels) and reports
figures **within each source only**, never pooled, never fitted on: within
Lite, well specified (<= 1) against underspecified (>= 2); within Verified,
label 0 against label 1. The score there uses the weights fitted on all the
random rows (what ``--write-calibration`` ships). Last, each feature's AUC
alone in each source, against the direction its documentation reasons for
it (``(+)`` or ``(-)`` in ``features.FEATURE_DOCS``).

The only numbers fitted are the six dimension weights: on the simplex,
minimising a smoothed 1 - AUC (pairwise logistic loss), shrunk towards the
weights set by reasoning. ``--write-calibration`` fits them on
all rows and writes ``loopcore/intercept/calibration.json``.

    .venv/bin/python bench/intercept_quality.py [--quick] [--write-calibration] [--seeds 5]

A sample the scorer was never fitted or designed on is scored through the tool
itself, over stdio, by ``bench/intercept_heldout.py --data FILE``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from _common import machine_line, print_command, print_table, verdict

REPO = Path(__file__).resolve().parents[1]

from loopcore.intercept.dimensions import (  # noqa: E402  (_common puts the repo on sys.path)
    DEFAULT_WEIGHTS,
    DIMENSIONS,
    applicability,
    compute_dimensions,
    overall,
)
from loopcore.intercept.features import FEATURE_DOCS, extract_features  # noqa: E402


def _data_dir() -> Path:
    """``shared/data`` beside the repository, or beside a parent (a git worktree)."""
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return REPO.parent / "shared" / "data"


DATA = _data_dir() / "intercept_calibration.jsonl"
MORE = DATA.with_name("intercept_more.jsonl")
CALIBRATION = REPO / "loopcore" / "intercept" / "calibration.json"
TAU = 0.05  # temperature of the smoothed AUC: score differences of this size count
SHRINK = 3.0  # L2 pull towards the reasoned default weights
Weights = dict[str, float]


@dataclass(frozen=True)
class Row:
    """One labelled issue, with what the scorer reads from it precomputed.

    ``well`` is the positive class: label <= 1 (random and Lite rows), or label 0
    for Verified rows, which hold labels 0 and 1 only.
    """

    label: int
    length: int
    features: dict[str, float]
    dims: dict[str, float]
    well: bool


def load_rows(path: Path, source: str | None = None) -> list[Row]:
    """The rows of ``path`` (of one ``source`` when given), with features read."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if source is not None and item.get("source") != source:
                continue
            text = item["problem_statement"]
            label = item["underspecified"]
            features = extract_features(text)
            well = label == 0 if source == "verified" else label <= 1
            rows.append(Row(label, len(text), features, compute_dimensions(features), well))
    return rows


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Mann-Whitney AUC (ties one half): P(score of a positive > score of a negative)."""
    r = ranks(scores)
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    rank_sum = sum(ri for ri, p in zip(r, positive, strict=True) if p)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation of the (tie-averaged) ranks."""
    rx, ry = ranks(x), ranks(y)
    n = len(rx)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5 if vx and vy else float("nan")


def score(row: Row, weights: Mapping[str, float]) -> float:
    return overall(row.dims, row.features, weights)


def length_score(row: Row) -> float:
    return min(1.0, row.length / 2000)


def _vector(row: Row) -> tuple[list[float], list[float]]:
    """Dimension values and applicabilities of a row, in DIMENSIONS order."""
    apply = [applicability(row.features)[d] for d in DIMENSIONS]
    return [row.dims[d] for d in DIMENSIONS], apply


def _value_and_grad(
    vec: tuple[list[float], list[float]], w: Sequence[float]
) -> tuple[float, list[float]]:
    """The weighted-mean score of a row and its gradient in the weights."""
    x, a = vec
    den = sum(wi * ai for wi, ai in zip(w, a, strict=True))
    s = sum(wi * ai * xi for wi, ai, xi in zip(w, a, x, strict=True)) / den
    return s, [ai * (xi - s) / den for ai, xi in zip(a, x, strict=True)]


def _loss_and_grad(
    pos: Sequence[tuple[list[float], list[float]]],
    neg: Sequence[tuple[list[float], list[float]]],
    w: Sequence[float],
) -> tuple[float, list[float]]:
    """Smoothed 1 - AUC (pairwise logistic at temperature TAU) plus the shrinkage penalty."""
    sp = [_value_and_grad(v, w) for v in pos]
    sn = [_value_and_grad(v, w) for v in neg]
    coef_p = [0.0] * len(sp)
    coef_n = [0.0] * len(sn)
    loss = 0.0
    for i, (a, _) in enumerate(sp):
        for j, (b, _) in enumerate(sn):
            z = (a - b) / TAU
            loss += math.log1p(math.exp(-z)) if z > -30 else -z
            g = -1.0 / (1.0 + math.exp(z)) / TAU if z < 30 else 0.0
            coef_p[i] += g
            coef_n[j] -= g
    pairs = len(sp) * len(sn)
    grad = [SHRINK * 2 * (wi - DEFAULT_WEIGHTS[d]) for wi, d in zip(w, DIMENSIONS, strict=True)]
    for coef, rows in ((coef_p, sp), (coef_n, sn)):
        for c, (_, gr) in zip(coef, rows, strict=True):
            for k, gk in enumerate(gr):
                grad[k] += c * gk / pairs
    penalty = SHRINK * sum(
        (wi - DEFAULT_WEIGHTS[d]) ** 2 for wi, d in zip(w, DIMENSIONS, strict=True)
    )
    return loss / pairs + penalty, grad


def fit(rows: Sequence[Row], steps: int = 200) -> Weights:
    """Projected gradient descent on the weight simplex, from the reasoned defaults."""
    pos = [_vector(r) for r in rows if r.well]
    neg = [_vector(r) for r in rows if not r.well]
    w = [DEFAULT_WEIGHTS[d] for d in DIMENSIONS]
    loss, grad = _loss_and_grad(pos, neg, w)
    rate = 0.05
    for _ in range(steps):
        trial = [max(0.0, wi - rate * gi) for wi, gi in zip(w, grad, strict=True)]
        total = sum(trial)
        trial = [t / total for t in trial]
        new_loss, new_grad = _loss_and_grad(pos, neg, trial)
        if new_loss < loss - 1e-9:
            w, loss, grad = trial, new_loss, new_grad
            rate *= 1.2
        else:
            rate /= 2
            if rate < 1e-4:
                break
    return dict(zip(DIMENSIONS, w, strict=True))


def folds(rows: Sequence[Row], k: int, seed: int) -> list[list[int]]:
    """Stratified by label: each label's rows shuffled and dealt round the folds."""
    rng = random.Random(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    at = 0
    for label in sorted({r.label for r in rows}):
        members = [i for i, r in enumerate(rows) if r.label == label]
        rng.shuffle(members)
        for i in members:
            out[at % k].append(i)
            at += 1
    return out


def cross_validate(
    rows: Sequence[Row], seeds: Sequence[int], k: int
) -> tuple[list[float], list[float], list[Weights]]:
    """Out-of-fold scores averaged over seeds, per-seed pooled AUCs, and every fitted weight set."""
    total = [0.0] * len(rows)
    per_seed: list[float] = []
    fitted: list[Weights] = []
    for seed in seeds:
        oof = [0.0] * len(rows)
        for test in folds(rows, k, seed):
            held = set(test)
            weights = fit([r for i, r in enumerate(rows) if i not in held])
            fitted.append(weights)
            for i in test:
                oof[i] = score(rows[i], weights)
        per_seed.append(auc(oof, [r.well for r in rows]))
        total = [t + o for t, o in zip(total, oof, strict=True)]
    return [t / len(seeds) for t in total], per_seed, fitted


Metric = Callable[[Sequence[float], Sequence[Row]], float]
R = TypeVar("R")


def auc_of(scores: Sequence[float], rows: Sequence[Row]) -> float:
    return auc(scores, [r.well for r in rows])


def spearman_of(scores: Sequence[float], rows: Sequence[Row]) -> float:
    return spearman(scores, [3 - r.label for r in rows])


def bootstrap(
    rows: Sequence[Row], series: Mapping[str, Sequence[float]], metric: Metric, n: int, seed: int
) -> dict[str, tuple[float, float, float]]:
    """Point value and 95% percentile interval per series, plus the paired difference to length."""
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {name: [] for name in series}
    samples["cv - length"] = []
    idx = range(len(rows))
    for _ in range(n):
        pick = [rng.choice(idx) for _ in idx]
        sub = [rows[i] for i in pick]
        values = {name: metric([s[i] for i in pick], sub) for name, s in series.items()}
        for name, v in values.items():
            samples[name].append(v)
        samples["cv - length"].append(values["cv"] - values["length"])
    points = {name: metric(s, rows) for name, s in series.items()}
    points["cv - length"] = points["cv"] - points["length"]
    out = {}
    for name, vals in samples.items():
        vals = sorted(v for v in vals if v == v)  # drop NaN (a one-class resample)
        out[name] = (points[name], vals[int(0.025 * len(vals))], vals[int(0.975 * len(vals)) - 1])
    return out


def mean_weights(sets: Sequence[Weights]) -> Weights:
    return {d: round(sum(w[d] for w in sets) / len(sets), 3) for d in DIMENSIONS}


def metric_cells(
    name: str, a: tuple[float, float, float], r: tuple[float, float, float]
) -> list[str]:
    """A table row: the name, then each metric with its interval (AUC, then Spearman)."""
    return [
        name,
        f"{a[0]:.3f}",
        f"[{a[1]:.3f}, {a[2]:.3f}]",
        f"{r[0]:.3f}",
        f"[{r[1]:.3f}, {r[2]:.3f}]",
    ]


def _ci(values: tuple[float, float, float]) -> dict[str, object]:
    return {"value": round(values[0], 4), "ci95": [round(values[1], 4), round(values[2], 4)]}


def report(rows: Sequence[Row], seeds: Sequence[int], k: int, n_boot: int) -> dict[str, object]:
    """Cross-validate, print the tables, and return the figures for the calibration file."""
    cv_scores, per_seed, fitted = cross_validate(rows, seeds, k)
    series = {
        "cv": cv_scores,
        "fixed": [score(r, DEFAULT_WEIGHTS) for r in rows],
        "length": [length_score(r) for r in rows],
    }
    aucs = bootstrap(rows, series, auc_of, n_boot, seed=1)
    rhos = bootstrap(rows, series, spearman_of, n_boot, seed=2)
    labels = [sum(r.label == v for r in rows) for v in range(4)]
    well = sum(r.well for r in rows)
    print(
        f"data: {DATA.name}, N={len(rows)}, labels 0/1/2/3 = {labels}; "
        f"well specified (<=1) {well}, underspecified (>=2) {len(rows) - well}"
    )
    print(
        f"method: stratified {k}-fold cross-validation x {len(seeds)} seeds; the six dimension "
        "weights fitted on the training folds only, the held-out fold scored; out-of-fold "
        f"scores averaged over seeds; 95% intervals from {n_boot} bootstrap resamples of rows"
    )
    names = {
        "cv": "fitted weights, out-of-fold",
        "fixed": "fixed directions, reasoned weights (no fit)",
        "length": "length baseline min(1, len/2000)",
        "cv - length": "out-of-fold minus length (paired)",
    }
    print_table(
        "Agreement with the human labels",
        ["score", "AUC", "AUC 95% CI", "Spearman", "Spearman 95% CI"],
        [metric_cells(name, aucs[key], rhos[key]) for key, name in names.items()],
    )
    cv_auc, gain = aucs["cv"][0], aucs["cv - length"][0]
    print_table(
        "Targets",
        ["target", "value", "result"],
        [
            ["out-of-fold AUC >= 0.65", f"{cv_auc:.3f}", verdict(cv_auc >= 0.65)],
            ["out-of-fold AUC - length AUC >= 0.05", f"{gain:+.3f}", verdict(gain >= 0.05)],
        ],
    )
    mean = mean_weights(fitted)
    print_table(
        "Dimension weights (the only numbers fitted)",
        ["dimension", "reasoned default", "mean fitted on training folds"],
        [[d, f"{DEFAULT_WEIGHTS[d]:.3f}", f"{mean[d]:.3f}"] for d in DIMENSIONS],
    )
    print(f"\nper-seed pooled out-of-fold AUC: {', '.join(f'{a:.3f}' for a in per_seed)}")
    return {
        "n": len(rows),
        "labels_0_1_2_3": labels,
        "folds": k,
        "seeds": len(seeds),
        "bootstrap_resamples": n_boot,
        "auc_out_of_fold": _ci(aucs["cv"]),
        "spearman_out_of_fold": _ci(rhos["cv"]),
        "auc_fixed_directions": _ci(aucs["fixed"]),
        "auc_length_baseline": _ci(aucs["length"]),
        "auc_out_of_fold_minus_length": _ci(aucs["cv - length"]),
    }


SOURCES = {
    "lite": "Lite: <=1 against >=2",
    "verified": "Verified: 0 against 1",
}


def interval(
    scores: Sequence[float],
    rows: Sequence[R],
    metric: Callable[[Sequence[float], Sequence[R]], float],
    n: int,
    seed: int,
) -> tuple[float, float, float]:
    """The metric and its 95% percentile bootstrap interval (one-class resamples dropped)."""
    rng = random.Random(seed)
    idx = range(len(rows))
    values = []
    for _ in range(n):
        pick = [rng.choice(idx) for _ in idx]
        values.append(metric([scores[i] for i in pick], [rows[i] for i in pick]))
    kept = sorted(v for v in values if v == v)
    point = metric(scores, rows)
    if not kept:
        return point, float("nan"), float("nan")
    return point, kept[int(0.025 * len(kept))], kept[int(0.975 * len(kept)) - 1]


def _interval(rows: Sequence[Row], scores: Sequence[float], n: int, seed: int) -> list[float]:
    """AUC and its 95% bootstrap percentile interval."""
    return list(interval(scores, rows, auc_of, n, seed))


def within_sources(
    more: Mapping[str, Sequence[Row]], weights: Weights, n_boot: int
) -> dict[str, object]:
    """AUC of the score (weights from the random rows) and of length, within each source."""
    table = []
    out: dict[str, object] = {}
    for source, title in SOURCES.items():
        rows = more[source]
        well = sum(r.well for r in rows)
        figures = {
            "score": _interval(rows, [score(r, weights) for r in rows], n_boot, 3),
            "fixed": _interval(rows, [score(r, DEFAULT_WEIGHTS) for r in rows], n_boot, 4),
            "length": _interval(rows, [length_score(r) for r in rows], n_boot, 5),
        }
        for name, (value, low, high) in figures.items():
            counts = f"{well} / {len(rows) - well}"
            table.append([title, counts, name, f"{value:.3f}", f"[{low:.3f}, {high:.3f}]"])
        out[source] = {
            "n": len(rows),
            "positives": well,
            **{f"auc_{name}": _ci(tuple(v)) for name, v in figures.items()},  # type: ignore[arg-type]
        }
    print_table(
        "Within one source (never pooled; nothing fitted on these rows)",
        ["source: positive against negative", "positives / negatives", "score", "AUC", "95% CI"],
        table,
    )
    print(
        "score = weights fitted on all the random rows (as shipped); fixed = reasoned weights; "
        "length = min(1, len/2000). Lite kept short, self-contained issues, so length runs "
        "backwards there."
    )
    return out


def directions(sets: Mapping[str, Sequence[Row]]) -> None:
    """Each feature's AUC alone per source, against the direction reasoned for it."""
    table = []
    for name, doc in FEATURE_DOCS.items():
        sign = "+" if "(+" in doc else "-" if "(-" in doc else ""
        if not sign:
            continue
        aucs = [auc_of([r.features[name] for r in rows], rows) for rows in sets.values()]
        agree = sum((a > 0.5) if sign == "+" else (a < 0.5) for a in aucs if a == a)
        table.append([name, sign, *(f"{a:.3f}" for a in aucs), f"{agree} of {len(aucs)}"])
    print_table(
        "Feature directions: each feature's AUC alone, within each source",
        ["feature", "reasoned", *sets, "sources agreeing"],
        table,
    )
    print(
        "A feature's direction is reasoned first (its documentation); 0.500 = no signal or "
        "never seen in that source."
    )


def write_calibration(rows: Sequence[Row], cv: dict[str, object]) -> Weights:
    weights = fit(rows)
    doc = {
        "version": 1,
        "weights": {d: round(weights[d], 4) for d in DIMENSIONS},
        "meta": {
            "date": dt.date.today().isoformat(),
            "n": len(rows),
            "data": "SWE-bench issues with OpenAI underspecification labels (shared/data)",
            "method": f"weights on the simplex minimising pairwise logistic loss (smoothed AUC, "
            f"temperature {TAU}) of well specified (<=1) over underspecified (>=2), "
            f"L2 shrink {SHRINK} towards the reasoned defaults",
            "defaults": dict(DEFAULT_WEIGHTS),
            "cv": cv,
        },
    }
    CALIBRATION.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return weights


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 200 resamples: a smoke test")
    parser.add_argument(
        "--write-calibration", action="store_true", help="fit on all rows, write JSON"
    )
    parser.add_argument("--seeds", type=int, default=5, help="cross-validation repeats")
    args = parser.parse_args(argv)
    print_command()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the labelled issues live in ../shared/data)")
        return 0
    print(machine_line())
    rows = load_rows(DATA)
    seeds = range(1) if args.quick else range(args.seeds)
    n_boot = 200 if args.quick else 2000
    cv = report(rows, list(seeds), 5, n_boot)
    if MORE.exists():
        more = {source: load_rows(MORE, source) for source in SOURCES}
        cv["within_source"] = within_sources(more, fit(rows), n_boot)
        directions({"random": rows, **more})
    else:
        print(f"\nwithin-source figures skipped: {MORE} not found")
    if args.write_calibration:
        weights = write_calibration(rows, cv)
        print_table(
            f"Written to {CALIBRATION.relative_to(REPO)}: weights fitted on all {len(rows)} rows",
            ["dimension", "weight"],
            [[d, f"{weights[d]:.4f}"] for d in DIMENSIONS],
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
