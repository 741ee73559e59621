"""The taxi example's feature block in polars, single-threaded: the polars side of
`cargo bench -p mlp-transform --bench transform` (see benches/transform.rs).

    python3 polars_block.py INPUT.arrow CONSTANTS.json [EXPECTED.arrow]

INPUT.arrow: the rows (Arrow IPC file). CONSTANTS.json: what the transform's analyzers learned
(z-score means and std devs, vocabularies, quantile boundaries). EXPECTED.arrow: the compiled
transform's outputs, to check that polars computes the same features.

Times `df.lazy().select(block).collect()` (one warm-up, then best and median of RUNS) with
POLARS_MAX_THREADS=1, and prints one JSON line: {"polars", "threads", "rows", "runs",
"best_ms", "median_ms", "checked", "mismatches", "rounding"}, or {"skipped": why} when polars
cannot be imported.

`area_id` and `pickup_cell` use polars' own hash (`Expr.hash`) of the same text and the same
pair of hashes: the same work, other values than the transform's XXH3-64, so they are checked
for nulls and range only.
"""

import json
import os
import statistics
import sys
import time

# Before polars is imported: its thread pool is sized once, at import.
os.environ["POLARS_MAX_THREADS"] = "1"

RUNS = 10


def block(pl, c):
    fare, tips, miles = pl.col("fare"), pl.col("tips"), pl.col("trip_miles")
    secs, hour = pl.col("trip_seconds"), pl.col("trip_start_hour")
    company, payment = pl.col("company"), pl.col("payment_type")
    area = pl.col("pickup_community_area")

    def bucketize(x, boundaries):
        # The number of boundaries <= x: the index of the left-closed bin; null stays null.
        return x.bin_intervals(boundaries, labels=False).cast(pl.Int64)

    def vocabulary(x, values):
        # The position in the vocabulary, or its size; null stays null.
        mapping = {v: k for k, v in enumerate(values)}
        looked_up = x.replace_strict(mapping, default=len(values), return_dtype=pl.Int64)
        return pl.when(x.is_not_null()).then(looked_up)

    pickup_lat = bucketize(pl.col("pickup_latitude"), c["lat"])
    pickup_lon = bucketize(pl.col("pickup_longitude"), c["lon"])
    area_hash = area.cast(pl.String).hash() % 64
    cell_hash = pl.struct(
        pickup_lat.cast(pl.String).hash().alias("a"), pickup_lon.cast(pl.String).hash().alias("b")
    ).hash() % 256
    return [
        (tips > fare * 0.2).alias("big_tipper"),
        fare.log1p().alias("fare_log"),
        (fare / miles.clip(lower_bound=0.1)).alias("fare_per_mile"),
        ((miles - c["miles_mean"]) / c["miles_std"]).alias("miles_z"),
        ((secs.fill_null(0) - c["seconds_mean"]) / c["seconds_std"]).alias("seconds_z"),
        bucketize(hour, [6, 10, 16, 20]).alias("hour_bucket"),
        pl.when((hour >= 22) | (hour < 6)).then(pl.lit(1, pl.Int64)).otherwise(pl.lit(0, pl.Int64)).alias("night"),
        vocabulary(company, c["company"]).alias("company_id"),
        vocabulary(payment, c["payment"]).alias("payment_id"),
        # Hashes of nulls are not null in polars: keep null as null, as the block does.
        pl.when(area.is_not_null()).then(area_hash.cast(pl.Int64)).alias("area_id"),
        pl.when(pickup_lat.is_not_null() & pickup_lon.is_not_null())
        .then(cell_hash.cast(pl.Int64))
        .alias("pickup_cell"),
        pickup_lat.alias("pickup_lat"),
        pickup_lon.alias("pickup_lon"),
    ]


HASHED = {"area_id": 64, "pickup_cell": 256}


def compare(pl, out, expected):
    """Features equal to the compiled outputs (nulls in the same rows, values equal; floats
    within a relative 1e-12), for each that differs: how many rows, the first, and both values
    there; and for floats that are close but not bit-equal: how many rows, the largest
    relative difference."""
    checked, mismatches, rounding = [], {}, {}
    for name in expected.columns:
        a, e = out[name], expected[name]
        if name in HASHED:
            bad = (a.is_null() != e.is_null()) | (a.fill_null(0) < 0) | (a.fill_null(0) >= HASHED[name])
        else:
            checked.append(name)
            a = a.cast(e.dtype)
            bad = a.ne_missing(e)
            if e.dtype == pl.Float64 and int(bad.sum()):
                rel = ((a - e).abs() / e.abs().clip(lower_bound=1e-300)).fill_null(0.0)
                rounding[name] = {"rows": int(bad.sum()), "max_rel": float(rel.max())}
                bad = bad & (rel > 1e-12)
        n = int(bad.sum())
        if n:
            r = int(bad.arg_true()[0])
            mismatches[name] = {"rows": n, "first_row": r, "polars": repr(a[r]), "compiled": repr(e[r])}
    return checked, mismatches, rounding


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        import polars as pl
    except ImportError as e:
        print(json.dumps({"skipped": f"polars is not importable by {sys.executable}: {e}"}))
        return
    df = pl.read_ipc(sys.argv[1]).rechunk()
    with open(sys.argv[2]) as f:
        c = json.load(f)
    exprs = block(pl, c)
    run = lambda: df.lazy().select(exprs).collect()  # noqa: E731
    out = run()
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    result = {
        "polars": pl.__version__,
        "threads": pl.thread_pool_size(),
        "rows": df.height,
        "runs": RUNS,
        "best_ms": min(times) * 1e3,
        "median_ms": statistics.median(times) * 1e3,
    }
    if len(sys.argv) > 3:
        expected = pl.read_ipc(sys.argv[3])
        result["checked"], result["mismatches"], result["rounding"] = compare(pl, out, expected)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
