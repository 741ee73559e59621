#!/usr/bin/env python3
"""Trains the taxi example's logistic regression with mlp and with scikit-learn on the same
transformed features, and prints both evaluation AUCs and both training times.

    python3 examples/taxi/compare_sklearn.py --rows 1000000
    python3 examples/taxi/compare_sklearn.py --rows 100000 --epochs 5,10,20

What it does, in a work folder (a temporary one unless --workdir is given; removed at the end
unless --keep):

1. Generates --rows taxi trips (the example's data generator, one span) or uses --data.
2. Runs `mlp run train.mlp --json` (examples/taxi: ingest split 80/20 by taxi, describe,
   transform fitted on `train`, `train_logistic`) and takes each step's reported duration
   (`elapsed_ms` of its `finished` event) and the wall time of the whole run.
3. Exports the transformed `train`/`eval` splits (Parquet) and the model (`model.json`,
   `weights.safetensors`), and scores mlp's model on `eval` from its definition:
   sigmoid(weights . numeric + sum of embedding.NAME[category] + bias), a missing number as 0,
   a missing category as index `categories`.
4. Builds the same design for scikit-learn from the same transformed columns: the numeric
   features with missing values as 0, each categorical feature one-hot encoded with
   `categories + 1` columns (a missing category is its own column), rows without a label left
   out. Fits `LogisticRegression(solver="lbfgs")` with C = 1 / (l2 * n_train): mlp minimizes
   mean BCE + l2/2 * ||w||^2 (bias not penalized), scikit-learn C * sum(BCE) + 1/2 * ||w||^2
   (intercept not penalized with lbfgs), the same objective up to a factor C * n_train.
5. Prints a table and one JSON line (the last line of output) with both AUCs, their
   difference, the log losses, both training times and their ratio.

Needs: pip install numpy pyarrow scipy scikit-learn safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

PIP = "pip install numpy pyarrow scipy scikit-learn safetensors"

try:
    import numpy as np
    import pyarrow.parquet as pq
    import scipy.sparse as sp
    import sklearn
    from safetensors.numpy import load_file
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
except ImportError as e:  # pragma: no cover - depends on the environment
    sys.exit(f"error: {e}.\nThis script needs numpy, pyarrow, scipy, scikit-learn and safetensors:\n  {PIP}")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PIPELINE_FILES = ["train.mlp", "features.mlp", "describe.mlp"]
BUILD = "cargo build --release -p mlp-cli -p mlp-example-data"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def target_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs.append(Path(os.environ["CARGO_TARGET_DIR"]))
    dirs.append(REPO / "target")
    return dirs


def find_mlp(given: str | None) -> Path:
    if given:
        p = Path(given).resolve()
        if not p.is_file():
            sys.exit(f"error: --mlp {given}: no such file")
        return p
    for d in target_dirs():
        p = d / "release" / "mlp"
        if p.is_file():
            return p
    sys.exit(
        "error: no release build of mlp found (looked in "
        + ", ".join(str(d / "release") for d in target_dirs())
        + f").\nBuild it with:\n  cd {REPO} && {BUILD}\nor pass --mlp PATH."
    )


def generate(rows: int, out: Path, mlp: Path) -> None:
    """Writes OUT/span-1/trips.csv with the example's generator (its binary next to mlp's when
    built, else through cargo)."""
    gen = mlp.parent / "taxi-data"
    args = ["--rows", str(rows), "--spans", "1", "--out", str(out)]
    cmd = [str(gen), *args] if gen.is_file() else ["cargo", "run", "-q", "-p", "mlp-example-data", "--release", "--", *args]
    log(f"generating {rows:,} rows: {' '.join(cmd)}")
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)


def link_data(src: Path, dest: Path) -> None:
    """Makes DEST/span-1 hold the files of the span folder SRC (hard links, else copies)."""
    if not src.is_dir():
        sys.exit(f"error: --data {src}: not a folder")
    if not any(src.glob("*.csv")) and (src / "span-1").is_dir():
        src = src / "span-1"
    span = dest / "span-1"
    span.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            try:
                os.link(f, span / f.name)
            except OSError:
                shutil.copy2(f, span / f.name)


def run_mlp(mlp: Path, work: Path, epochs: int | None, no_cache: bool) -> dict:
    cmd = [str(mlp), "run", "train.mlp", "--json"]
    if no_cache:
        cmd.append("--no-cache")
    if epochs is not None:
        cmd += ["--set", f"epochs={epochs}"]
    log(f"running: {' '.join(cmd)}  (in {work})")
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    steps = {}
    for line in p.stdout.splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if v.get("event") == "finished":
            steps[v["step"]] = v
    failed = [s for s, v in steps.items() if v.get("status") == "failed"]
    if p.returncode != 0 or failed or "train" not in steps:
        for s in failed:
            log(f"step {s} failed: {steps[s].get('error')}\n{steps[s].get('detail') or ''}")
        sys.exit(f"error: `{' '.join(cmd)}` exited with {p.returncode}\n{p.stderr[-4000:]}")
    return {"wall_s": wall, "cpu_s": cpu, "steps": steps}


def export(mlp: Path, work: Path, digest: str, dest: Path) -> None:
    subprocess.run(
        [str(mlp), "artifacts", "export", digest, str(dest), "--format", "parquet"],
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def read_split(path: Path, numeric: list[str], categorical: list[tuple[str, int]], label: str):
    """The numeric matrix (missing as 0), category indices (missing as `categories`) and labels
    of a split's rows that have a label."""
    t = pq.read_table(path)
    y_col = t.column(label)
    keep = np.asarray(y_col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    y = np.asarray(y_col.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.float64)[keep]
    x = np.zeros((int(keep.sum()), len(numeric)), dtype=np.float64)
    for k, name in enumerate(numeric):
        c = t.column(name)
        v = c.cast("float64").fill_null(0.0).to_numpy(zero_copy_only=False)
        x[:, k] = v[keep]
    cats = []
    for name, n in categorical:
        v = t.column(name).cast("int64").fill_null(n).to_numpy(zero_copy_only=False)[keep]
        if v.size and (v.min() < 0 or v.max() > n):
            sys.exit(f"error: {name} has indices outside 0..{n}")
        cats.append(v.astype(np.int64))
    return x, cats, y


def one_hot_design(x: np.ndarray, cats: list[np.ndarray], categorical: list[tuple[str, int]]) -> sp.csr_matrix:
    """[numeric | one-hot of each categorical feature with categories + 1 columns], sparse."""
    rows = x.shape[0]
    blocks = [sp.csr_matrix(x)]
    for v, (_, n) in zip(cats, categorical):
        blocks.append(sp.csr_matrix((np.ones(rows), (np.arange(rows), v)), shape=(rows, n + 1)))
    return sp.hstack(blocks, format="csr")


def mlp_scores(x, cats, model_dir: Path, numeric, categorical) -> tuple[np.ndarray, np.ndarray]:
    """mlp's logits and the flat parameter vector in the one-hot design's column order."""
    w = load_file(str(model_dir / "weights.safetensors"))
    weights = w["weights"].astype(np.float64).reshape(-1) if numeric else np.zeros(0)
    z = x @ weights + float(w["bias"].reshape(-1)[0])
    flat = [weights]
    for v, (name, n) in zip(cats, categorical):
        e = w[f"embedding.{name}"].astype(np.float64).reshape(-1)
        assert e.size == n + 1, (name, e.size, n)
        z = z + e[v]
        flat.append(e)
    return z, np.concatenate(flat)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def objective(z: np.ndarray, y: np.ndarray, coef: np.ndarray, l2: float) -> float:
    """mean BCE with logits + l2/2 * ||coef||^2: what both trainers minimize (up to a factor)."""
    bce = np.mean(np.logaddexp(0.0, z) - y * z)
    return float(bce + l2 / 2.0 * np.dot(coef, coef))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    ap.add_argument("--data", help="use this span folder (holding trips.csv) instead of generating")
    ap.add_argument("--mlp", help="the mlp binary (default: a release build under $CARGO_TARGET_DIR or target/)")
    ap.add_argument("--workdir", help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument(
        "--epochs",
        help="mlp epochs, or a comma-separated list (each a run of the train step; default: the pipeline's, 5)",
    )
    ap.add_argument("--max-iter", type=int, default=10_000, help="scikit-learn's max_iter (default 10000)")
    ap.add_argument("--tol", type=float, default=1e-4, help="scikit-learn's tol (default 1e-4, its own default)")
    args = ap.parse_args()

    mlp = find_mlp(args.mlp)
    epochs_list: list[int | None] = [int(e) for e in args.epochs.split(",")] if args.epochs else [None]
    if args.workdir:
        work = Path(args.workdir).resolve()
        if work.exists() and any(work.iterdir()):
            sys.exit(f"error: --workdir {work} exists and is not empty")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="mlp-vs-sklearn-"))
    try:
        result = compare(args, mlp, work, epochs_list)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


def compare(args, mlp: Path, work: Path, epochs_list: list[int | None]) -> dict:
    for f in PIPELINE_FILES:
        shutil.copy(HERE / f, work / f)
    if args.data:
        link_data(Path(args.data).resolve(), work / "data")
        source = str(Path(args.data).resolve())
    else:
        generate(args.rows, work / "data", mlp)
        source = f"generated, {args.rows} rows"

    runs = []
    features_digest = None
    for i, epochs in enumerate(epochs_list):
        # The first run computes everything; later ones (other epochs) reuse the cached
        # ingest, statistics and transform, and only train again.
        r = run_mlp(mlp, work, epochs, no_cache=(i == 0))
        steps = r["steps"]
        fd = steps["features/transform"]["outputs"]["out"]["digest"]
        assert features_digest in (None, fd)
        features_digest = fd
        model_dir = work / f"model-{i}"
        export(mlp, work, steps["train"]["outputs"]["model"]["digest"], model_dir)
        runs.append((epochs, r, model_dir))

    feat_dir = work / "features"
    export(mlp, work, features_digest, feat_dir)
    spec = json.loads((runs[0][2] / "model.json").read_text())
    label = spec["label"]
    numeric = list(spec["inputs"]["numeric"])
    categorical = [(c["name"], int(c["categories"])) for c in spec["inputs"]["categorical"]]
    l2 = float(spec["hyperparameters"]["l2"])

    x_tr, c_tr, y_tr = read_split(feat_dir / "train.parquet", numeric, categorical, label)
    x_ev, c_ev, y_ev = read_split(feat_dir / "eval.parquet", numeric, categorical, label)
    shutil.rmtree(feat_dir)
    n_train = len(y_tr)
    log(
        f"train {n_train:,} rows, eval {len(y_ev):,} rows; {len(numeric)} numeric features, "
        f"{len(categorical)} categorical ({sum(n + 1 for _, n in categorical)} one-hot columns)"
    )

    # scikit-learn on the same design.
    X_tr = one_hot_design(x_tr, c_tr, categorical)
    X_ev = one_hot_design(x_ev, c_ev, categorical)
    C = 1.0 / (l2 * n_train) if l2 > 0 else None
    clf = LogisticRegression(
        solver="lbfgs",
        C=C if C is not None else 1.0,
        penalty="l2" if C is not None else None,
        max_iter=args.max_iter,
        tol=args.tol,
    )
    log(f"fitting scikit-learn LogisticRegression(lbfgs, C={C}, max_iter={args.max_iter}, tol={args.tol}) ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        c0, t0 = time.process_time(), time.perf_counter()
        clf.fit(X_tr, y_tr)
        sk_fit, sk_cpu = time.perf_counter() - t0, time.process_time() - c0
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    sk_z_ev = X_ev @ clf.coef_.reshape(-1) + clf.intercept_[0]
    sk_z_tr = X_tr @ clf.coef_.reshape(-1) + clf.intercept_[0]
    sk_p = sigmoid(sk_z_ev)
    sk = {
        "auc": float(roc_auc_score(y_ev, sk_p)),
        "log_loss": float(log_loss(y_ev, np.clip(sk_p, 1e-12, 1 - 1e-12))),
        "train_objective": objective(sk_z_tr, y_tr, clf.coef_.reshape(-1), l2),
        "fit_s": sk_fit,
        "fit_cpu_s": sk_cpu,
        "n_iter": int(np.max(clf.n_iter_)),
        "converged": converged,
        "C": C,
        "tol": args.tol,
        "max_iter": args.max_iter,
    }

    out_runs = []
    for epochs, r, model_dir in runs:
        spec_i = json.loads((model_dir / "model.json").read_text())
        assert spec_i["inputs"]["numeric"] == numeric
        z_ev, flat = mlp_scores(x_ev, c_ev, model_dir, numeric, categorical)
        z_tr, _ = mlp_scores(x_tr, c_tr, model_dir, numeric, categorical)
        p = sigmoid(z_ev)
        steps = r["steps"]
        train_s = steps["train"]["elapsed_ms"] / 1e3
        hp = spec_i["hyperparameters"]
        out_runs.append(
            {
                "epochs": hp["epochs"],
                "learning_rate": hp["learning_rate"],
                "batch_size": hp["batch_size"],
                "l2": hp["l2"],
                "auc": float(roc_auc_score(y_ev, p)),
                "log_loss": float(log_loss(y_ev, np.clip(p, 1e-12, 1 - 1e-12))),
                "reported_eval_loss": spec_i["training"]["history"][-1].get("eval_loss"),
                "train_objective": objective(z_tr, y_tr, flat, l2),
                "train_step_s": train_s,
                "per_epoch_s": train_s / hp["epochs"],
                "run_wall_s": r["wall_s"],
                "run_cpu_s": r["cpu_s"],
                "steps_s": {s: v["elapsed_ms"] / 1e3 for s, v in steps.items()},
                "cached_steps": sorted(s for s, v in steps.items() if v.get("status") == "cached"),
            }
        )
        shutil.rmtree(model_dir)

    result = {
        "rows": args.rows if not args.data else None,
        "data": source,
        "train_rows": n_train,
        "eval_rows": int(len(y_ev)),
        "numeric_features": len(numeric),
        "categorical_features": len(categorical),
        "one_hot_columns": X_tr.shape[1],
        "sklearn": sk,
        "mlp": out_runs,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "cpus": os.cpu_count(),
        },
    }
    for m in out_runs:
        m["auc_minus_sklearn"] = m["auc"] - sk["auc"]
        m["time_ratio_sklearn_over_mlp"] = sk["fit_s"] / m["train_step_s"]
    print_table(result)
    return result


def print_table(r: dict) -> None:
    sk = r["sklearn"]
    print(
        f"\ntrain {r['train_rows']:,} rows, eval {r['eval_rows']:,} rows ({r['data']}); "
        f"design: {r['numeric_features']} numeric + {r['categorical_features']} categorical = "
        f"{r['one_hot_columns']} columns; C = 1/(l2*n_train) = {sk['C']:.4g}"
    )
    head = f"{'model':<34} {'eval AUC':>9} {'AUC diff':>9} {'log loss':>9} {'train obj':>10} {'train s':>8} {'sk/mlp':>7}"
    print(head)
    print("-" * len(head))
    conv = "" if sk["converged"] else " NOT converged"
    name = f"scikit-learn lbfgs ({sk['n_iter']} it{conv})"
    print(f"{name:<34} {sk['auc']:>9.4f} {'':>9} {sk['log_loss']:>9.4f} {sk['train_objective']:>10.5f} {sk['fit_s']:>8.2f} {'':>7}")
    for m in r["mlp"]:
        name = f"mlp Adam, {m['epochs']} epochs"
        print(
            f"{name:<34} {m['auc']:>9.4f} {m['auc_minus_sklearn']:>+9.4f} {m['log_loss']:>9.4f} "
            f"{m['train_objective']:>10.5f} {m['train_step_s']:>8.2f} {m['time_ratio_sklearn_over_mlp']:>7.2f}"
        )
    for m in r["mlp"]:
        st = ", ".join(f"{s} {t:.2f}" for s, t in m["steps_s"].items())
        cached = f" (cached: {', '.join(m['cached_steps'])})" if m["cached_steps"] else ""
        print(
            f"mlp {m['epochs']} epochs: run wall {m['run_wall_s']:.2f} s (CPU {m['run_cpu_s']:.2f} s); per epoch {m['per_epoch_s']:.2f} s; "
            f"steps (s): {st}{cached}"
        )
    print(f"scikit-learn fit: wall {sk['fit_s']:.2f} s, CPU {sk['fit_cpu_s']:.2f} s")
    print("AUC diff = mlp - scikit-learn; sk/mlp = scikit-learn fit time / mlp train step time (above 1: mlp faster)")


if __name__ == "__main__":
    main()
