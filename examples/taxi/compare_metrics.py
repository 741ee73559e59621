#!/usr/bin/env python3
"""Recomputes the metrics of mlp's `evaluate` step with scikit-learn from the same predictions,
prints both side by side, and fails when any pair differs by more than 1e-6.

    python3 examples/taxi/compare_metrics.py                  # 20,000 generated trips
    python3 examples/taxi/compare_metrics.py --rows 200000
    python3 examples/taxi/compare_metrics.py --evaluation EXPORTED --examples EVAL.parquet

What it does, in a work folder (a temporary one unless --workdir is given; removed at the end
unless --keep):

1. Generates --rows taxi trips (the example's data generator, one span).
2. Runs `mlp run evaluate.mlp --json`: the example's `train.mlp` (ingest split 80/20 by taxi,
   describe, transform, `train_logistic`) followed by an `evaluate` step sliced by payment type,
   by start hour (quantile buckets) and by their cross, at three thresholds.
3. Exports the evaluation artifact (`evaluation.json` and its `predictions` table: the label,
   the prediction and the class probabilities, row by row) and the transformed `eval` split
   (for the slice columns), both as Parquet.
4. Computes, with scikit-learn and numpy on those predictions, every metric the evaluation
   reports overall and for every slice with metrics: for a binary classifier `roc_auc_score`,
   `average_precision_score`, `log_loss`, `brier_score_loss`, and at each threshold (a row is
   positive when its probability is above it) `accuracy_score`, `precision_score`,
   `recall_score`, `f1_score` and the rates of `confusion_matrix`, and the 10-bin
   `calibration_curve`; for other classifiers accuracy, macro and weighted precision, recall
   and F1, log loss and the macro one-vs-rest AUC; for regressors RMSE, MAE and R².
5. Prints each metric with both values and their difference; exits with status 1 when one
   differs by more than --tolerance (1e-6) or is missing on one side.

With --evaluation (a folder written by `mlp artifacts export DIGEST FOLDER`) it compares that
evaluation instead of running anything; --examples (the evaluated split of the transformed
examples, as Parquet) adds the slices.

Needs: pip install numpy pyarrow scikit-learn
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

PIP = "pip install numpy pyarrow scikit-learn"

try:
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        confusion_matrix,
        f1_score,
        log_loss,
        mean_absolute_error,
        mean_squared_error,
        precision_score,
        r2_score,
        recall_score,
        roc_auc_score,
    )
except ImportError as e:  # pragma: no cover - depends on the environment
    sys.exit(f"error: {e}.\nThis script needs numpy, pyarrow and scikit-learn:\n  {PIP}")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PIPELINE_FILES = ["train.mlp", "features.mlp", "describe.mlp"]
BUILD = "cargo build --release -p mlp-cli -p mlp-example-data"

EVALUATE_STEP = """
/// The model's metrics on `eval`, overall and per slice (added by compare_metrics.py).
step eval = tab.evaluate {
  model = train.model
  examples = features.out
  label = "big_tipper"
  slice_by = ["payment_type", "trip_start_hour", "payment_type x trip_start_hour"]
  thresholds = [0.5, 0.3, 0.7]
  bootstrap = 50
  bless = auc >= 0.5
}
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def find_mlp(given: str | None) -> Path:
    if given:
        p = Path(given).resolve()
        if not p.is_file():
            sys.exit(f"error: --mlp {given}: no such file")
        return p
    dirs = [Path(os.environ["CARGO_TARGET_DIR"])] if os.environ.get("CARGO_TARGET_DIR") else []
    dirs.append(REPO / "target")
    for d in dirs:
        for profile in ["release", "debug"]:
            p = d / profile / "mlp"
            if p.is_file():
                return p
    sys.exit(f"error: no build of mlp found under {', '.join(map(str, dirs))}.\nBuild it with:\n  cd {REPO} && {BUILD}\nor pass --mlp PATH.")


def generate(rows: int, out: Path, mlp: Path) -> None:
    gen = mlp.parent / "taxi-data"
    args = ["--rows", str(rows), "--spans", "1", "--out", str(out)]
    cmd = [str(gen), *args] if gen.is_file() else ["cargo", "run", "-q", "-p", "mlp-example-data", "--release", "--", *args]
    log(f"generating {rows:,} rows: {' '.join(cmd)}")
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)


def run_pipeline(mlp: Path, work: Path) -> dict:
    for f in PIPELINE_FILES:
        shutil.copy(HERE / f, work / f)
    (work / "evaluate.mlp").write_text((HERE / "train.mlp").read_text() + EVALUATE_STEP)
    cmd = [str(mlp), "run", "evaluate.mlp", "--json"]
    log(f"running: {' '.join(cmd)}  (in {work})")
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    steps = {}
    for line in p.stdout.splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if v.get("event") == "finished":
            steps[v["step"]] = v
    if p.returncode != 0 or steps.get("eval", {}).get("status") != "succeeded":
        for s, v in steps.items():
            if v.get("status") == "failed":
                log(f"step {s} failed: {v.get('error')}\n{v.get('detail') or ''}")
        sys.exit(f"error: `{' '.join(cmd)}` exited with {p.returncode}\n{p.stderr[-4000:]}")
    return steps


def export(mlp: Path, work: Path, digest: str, dest: Path) -> None:
    subprocess.run(
        [str(mlp), "artifacts", "export", digest, str(dest), "--format", "parquet"],
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
    )


class Comparison:
    """Pairs of (mlp, scikit-learn) values, printed as a table."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.rows: list[tuple[str, str, float | None, float | None, bool]] = []

    def add(self, where: str, name: str, ours, theirs) -> None:
        ours = None if ours is None or (isinstance(ours, float) and math.isnan(ours)) else float(ours)
        theirs = None if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)) else float(theirs)
        if ours is None and theirs is None:
            ok = True
        elif ours is None or theirs is None:
            ok = False
        else:
            ok = abs(ours - theirs) <= self.tolerance
        self.rows.append((where, name, ours, theirs, ok))

    def print(self) -> int:
        """Every value of the overall metrics and the calibration; one line per slice (every
        value of a slice that has a difference beyond the tolerance)."""
        fmt = lambda v: "-" if v is None else f"{v:.10f}"
        diff = lambda r: abs(r[2] - r[3]) if r[2] is not None and r[3] is not None else None
        head = f"{'where':<48} {'metric':<18} {'mlp':>15} {'scikit-learn':>15} {'difference':>10}"
        print(head)
        print("-" * len(head))
        groups: dict[str, list] = {}
        for r in self.rows:
            groups.setdefault(r[0], []).append(r)
        for where, rows in groups.items():
            detailed = where in ("overall", "calibration") or not all(r[4] for r in rows)
            if detailed:
                for r in rows:
                    d = diff(r)
                    mark = "" if r[4] else "  <-- differs"
                    d = "-" if d is None else f"{d:.1e}"
                    print(f"{where[:48]:<48} {r[1]:<18} {fmt(r[2]):>15} {fmt(r[3]):>15} {d:>10}{mark}")
            else:
                ds = [d for d in map(diff, rows) if d is not None]
                n = next((r[2] for r in rows if r[1] == "rows"), None)
                what = f"{len(rows)} values ({int(n)} rows)" if n is not None else f"{len(rows)} values"
                print(f"{where[:48]:<48} {what:<50} {max(ds, default=0.0):>10.1e}")
        worst = max((d for d in map(diff, self.rows) if d is not None), default=0.0)
        bad = sum(1 for r in self.rows if not r[4])
        print(f"\n{len(self.rows)} values compared ({len(groups)} groups), largest difference {worst:.2e}, {bad} beyond {self.tolerance:g}")
        return bad


def binary_metrics(y: np.ndarray, proba: np.ndarray, thresholds: list[float]) -> tuple[dict, list[dict]]:
    """scikit-learn's metrics of a binary classifier: y in {0, 1}, proba [rows, 2]."""
    p1 = proba[:, 1]
    both = len(np.unique(y)) == 2
    m = {
        "count": len(y),
        "auc": roc_auc_score(y, p1) if both else None,
        "auc_pr": average_precision_score(y, p1) if y.any() else None,
        "log_loss": log_loss(y, proba, labels=[0, 1]),
        "brier": brier_score_loss(y, p1, pos_label=1),
    }
    at = []
    for t in thresholds:
        pred = (p1 > t).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        at.append(
            {
                "threshold": t,
                "accuracy": accuracy_score(y, pred),
                "precision": precision_score(y, pred, zero_division=0),
                "recall": recall_score(y, pred, zero_division=0),
                "f1": f1_score(y, pred, zero_division=0),
                "fpr": fp / (fp + tn) if fp + tn else None,
                "fnr": fn / (fn + tp) if fn + tp else None,
                "positive_rate": (tp + fp) / len(y),
                "tp": tp,
                "fp": fp,
                "tn": tn,
                "fn": fn,
            }
        )
    for k in ["accuracy", "precision", "recall", "f1", "fpr", "fnr", "positive_rate"]:
        m[k] = at[0][k]
    return m, at


def multiclass_metrics(y: np.ndarray, proba: np.ndarray, predicted: np.ndarray) -> dict:
    """y and predicted as class indices; proba [rows, classes]."""
    k = proba.shape[1]
    aucs = [roc_auc_score(y == c, proba[:, c]) for c in range(k) if 0 < (y == c).sum() < len(y)]
    m = {
        "count": len(y),
        "accuracy": accuracy_score(y, predicted),
        "auc": float(np.mean(aucs)) if aucs and k > 1 else None,
        "log_loss": log_loss(y, proba, labels=list(range(k))),
    }
    for avg in ["macro", "weighted"]:
        m[f"{avg}_precision"] = precision_score(y, predicted, average=avg, zero_division=0)
        m[f"{avg}_recall"] = recall_score(y, predicted, average=avg, zero_division=0)
        m[f"{avg}_f1"] = f1_score(y, predicted, average=avg, zero_division=0)
    return m


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict:
    return {
        "count": len(y),
        "rmse": math.sqrt(mean_squared_error(y, predicted)),
        "mae": mean_absolute_error(y, predicted),
        "r2": r2_score(y, predicted),
    }


def show_value(v) -> str | None:
    """A value as the evaluation names it in a slice key."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


def slice_mask(s: dict, columns: dict[str, list]) -> np.ndarray:
    n = len(next(iter(columns.values())))
    mask = np.ones(n, dtype=bool)
    for c in s["columns"]:
        values = columns[c["column"]]
        if "low" in c:
            lo, hi, closed = c["low"], c["high"], c["high_included"]
            x = np.array([np.nan if v is None else float(v) for v in values])
            mask &= (x >= lo) & ((x <= hi) if closed else (x < hi))
        elif c["value"] == "null":
            mask &= np.array([show_value(v) is None for v in values])
        else:
            mask &= np.array([show_value(v) == c["value"] for v in values])
    return mask


def compare(doc: dict, predictions, examples, tolerance: float) -> int:
    cmp = Comparison(tolerance)
    task = doc["task"]
    classes = doc["classes"]
    label = predictions.column("label").to_numpy()
    pred = predictions.column("prediction").to_numpy()
    names = doc["metric_names"]
    log(f"{task} model, {len(label):,} rows, classes {classes}")
    if task != "regression":
        proba = np.stack([predictions.column(f"probability_{show_value(float(c))}").to_numpy() for c in classes], axis=1)
        index = {float(c): i for i, c in enumerate(classes)}
        y = np.array([index[float(v)] for v in label])
        predicted = np.array([index[float(v)] for v in pred])

    def ours_vs_theirs(where: str, measured: dict, rows: np.ndarray) -> None:
        if task == "binary":
            m, at = binary_metrics(y[rows], proba[rows], doc["thresholds"])
            for i, t in enumerate(at):
                for k in ["accuracy", "precision", "recall", "f1", "fpr", "fnr", "positive_rate", "tp", "fp", "tn", "fn"]:
                    cmp.add(where, f"{k}@{t['threshold']}", measured["thresholds"][i][k], t[k])
        elif task == "multiclass":
            m = multiclass_metrics(y[rows], proba[rows], predicted[rows])
        else:
            m = regression_metrics(label[rows], pred[rows])
        for n in names:
            cmp.add(where, n, measured["metrics"][n], m[n])

    everything = np.arange(len(label))
    ours_vs_theirs("overall", doc["overall"], everything)
    if task == "binary":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prob_true, prob_pred = calibration_curve(y, proba[:, 1], n_bins=10, strategy="uniform")
        bins = [b for b in doc["calibration"] if b["count"] > 0]
        cmp.add("calibration", "non-empty bins", len(bins), len(prob_true))
        for i, b in enumerate(bins[: len(prob_true)]):
            cmp.add("calibration", f"bin {i} observed", b["observed_rate"], prob_true[i])
            cmp.add("calibration", f"bin {i} predicted", b["mean_predicted"], prob_pred[i])
    if examples is not None:
        wanted = {c["column"] for s in doc["slices"] for c in s["columns"]}
        columns = {c: examples.column(c).to_pylist() for c in wanted}
        if len(next(iter(columns.values()), [])) != len(label) and columns:
            sys.exit("error: the examples do not have one row per prediction (pass the evaluated split, rows with a label)")
        for s in doc["slices"]:
            rows = np.flatnonzero(slice_mask(s, columns))
            cmp.add(s["slice"], "rows", s["count"], len(rows))
            if s["metrics"] is not None:
                ours_vs_theirs(s["slice"], s, rows)
    return cmp.print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000, help="trips to generate (default 20,000)")
    ap.add_argument("--mlp", help="the mlp binary (default: a build under $CARGO_TARGET_DIR or target/)")
    ap.add_argument("--workdir", help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--evaluation", help="compare this exported Evaluation artifact folder instead of running")
    ap.add_argument("--examples", help="with --evaluation: the evaluated split of the transformed examples (Parquet)")
    ap.add_argument("--tolerance", type=float, default=1e-6, help="largest allowed difference (default 1e-6)")
    args = ap.parse_args()

    warnings.simplefilter("ignore", UserWarning)
    if args.evaluation:
        folder = Path(args.evaluation)
        doc = json.loads((folder / "evaluation.json").read_text())
        examples = None
        if args.examples:
            examples = pq.read_table(args.examples)
            examples = examples.filter(examples.column(doc["label"]).is_valid())
        bad = compare(doc, pq.read_table(folder / "predictions.parquet"), examples, args.tolerance)
        sys.exit(1 if bad else 0)

    mlp = find_mlp(args.mlp)
    if args.workdir:
        work = Path(args.workdir).resolve()
        if work.exists() and any(work.iterdir()):
            sys.exit(f"error: --workdir {work} exists and is not empty")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="mlp-metrics-"))
    try:
        generate(args.rows, work / "data", mlp)
        steps = run_pipeline(mlp, work)
        export(mlp, work, steps["eval"]["outputs"]["evaluation"]["digest"], work / "evaluation")
        export(mlp, work, steps["features/transform"]["outputs"]["out"]["digest"], work / "features")
        doc = json.loads((work / "evaluation" / "evaluation.json").read_text())
        examples = pq.read_table(work / "features" / f"{doc['split']}.parquet")
        examples = examples.filter(examples.column(doc["label"]).is_valid())
        bad = compare(doc, pq.read_table(work / "evaluation" / "predictions.parquet"), examples, args.tolerance)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
