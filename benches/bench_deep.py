"""DeepExplainer and GradientExplainer: ferroshap vs shap vs the floor, side by side.

A CNN trained briefly on scikit-learn's 8x8 digits (two conv layers with ReLU and max
pooling, two dense layers, 10 outputs), 100 background rows, 200 explained rows, CPU.

- Deep: ``shap.DeepExplainer(model, bg).shap_values(X)`` against
  ``ferroshap.DeepExplainer(model, bg, batch_size=B).shap_values(X)``; the floor is one
  forward pass over the 20,000 (row, background row) pairs and one backward pass per output
  with plain autograd (no rules), in batches of B pairs.
- Gradient: both explainers at ``nsamples`` draws per row (the same seed, so the same
  points); the floor is one forward and one backward per output over the 200 x nsamples
  interpolated points, in batches of B.

Rounds alternate the contenders and keep each one's best time. Peak memory of a ferroshap
Deep run (resident set growth in a fresh subprocess) is reported for several batch sizes.

    python benches/bench_deep.py                 # all of it
    python benches/bench_deep.py --quick         # 20 rows, 1 round
    python benches/bench_deep.py --threads 2 --repeats 3 --json benches/out/deep.json
    python benches/bench_deep.py --shap-rows 40   # shap is slow: time it on 40 rows
    python benches/bench_deep.py --keras --no-torch --no-memory   # the Keras 3 model
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings


def build(threads: int, train: bool = True):
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from torch import nn

    torch.set_num_threads(threads)
    d = load_digits()
    X = torch.tensor(d.data / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(d.target)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2 if train else 0):
        for i in range(0, len(X), 128):
            opt.zero_grad()
            F.cross_entropy(model(X[i : i + 128]), y[i : i + 128]).backward()
            opt.step()
    return model.eval(), X


def build_keras(threads: int):
    """The same CNN in Keras 3 (channels last), trained the same way."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    from sklearn.datasets import load_digits

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    d = load_digits()
    X = (d.data / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10),
    ])  # fmt: skip
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, d.target, epochs=2, batch_size=128, verbose=0)
    return model, X


def floor_keras(model, points, batch_size: int) -> None:
    """One forward and one backward per output over ``points``, plain GradientTape."""
    import tensorflow as tf

    for p0 in range(0, points.shape[0], batch_size):
        x = tf.constant(points[p0 : p0 + batch_size])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            out = model(x, training=False)
            targets = [tf.reduce_sum(out[:, j]) for j in range(out.shape[1])]
        for t in targets:
            tape.gradient(t, x)
        del tape


def run_keras(args, counts: dict, results: dict) -> None:
    import numpy as np
    import shap

    import ferroshap

    model, X = build_keras(args.threads)
    bg, rows = X[: args.background], X[200 : 200 + args.rows]
    shap_rows = rows[: counts["shap"]]
    bs, ns = args.batch_size, args.nsamples
    ours = ferroshap.DeepExplainer(model, bg, batch_size=bs)
    theirs = shap.DeepExplainer(model, bg)
    diff = float(np.abs(ours.shap_values(shap_rows) - theirs.shap_values(shap_rows)).max())
    pairs = np.repeat(rows, bg.shape[0], axis=0)
    deep = best_times(
        {
            "shap": lambda: theirs.shap_values(shap_rows),
            "ferroshap": lambda: ours.shap_values(rows),
            "floor": lambda: floor_keras(model, pairs, bs),
        },
        args.repeats,
    )
    import keras
    import tensorflow as tf

    print(
        f"tensorflow {tf.__version__}, keras {keras.__version__}, shap {shap.__version__}, "
        f"{args.threads} threads, load {os.getloadavg()[0]:.1f}; {args.rows} rows, "
        f"{args.background} background rows, batch_size {bs}"
    )
    _report("Keras 3 DeepExplainer", deep, counts, diff)
    results["keras_deep"] = {**deep, "rows": counts, "max_abs_diff": diff}
    g_ours = ferroshap.GradientExplainer(model, bg, batch_size=bs)
    g_theirs = shap.GradientExplainer(model, bg, batch_size=50)
    a = g_ours.shap_values(shap_rows, nsamples=ns, rseed=0)
    diff = float(np.abs(a - g_theirs.shap_values(shap_rows, nsamples=ns, rseed=0)).max())
    points = np.repeat(rows, ns, axis=0)
    grad = best_times(
        {
            "shap": lambda: g_theirs.shap_values(shap_rows, nsamples=ns, rseed=0),
            "ferroshap": lambda: g_ours.shap_values(rows, nsamples=ns, rseed=0),
            "floor": lambda: floor_keras(model, points, bs),
        },
        args.repeats,
    )
    _report(f"Keras 3 GradientExplainer (nsamples={ns})", grad, counts, diff)
    results["keras_gradient"] = {**grad, "rows": counts, "max_abs_diff": diff}


def floor_deep(model, rows, bg, batch_size: int) -> None:
    """One forward over all (row, background) pairs, one backward per output: no rules."""
    import torch

    n_bg = bg.shape[0]
    per_block = max(1, batch_size // n_bg)
    for r0 in range(0, rows.shape[0], per_block):
        x = rows[r0 : r0 + per_block].repeat_interleave(n_bg, 0).requires_grad_()
        out = model(x)
        for j in range(out.shape[1]):
            (g,) = torch.autograd.grad(out[:, j].sum(), x, retain_graph=j < out.shape[1] - 1)


def floor_gradient(model, rows, nsamples: int, batch_size: int) -> None:
    import torch

    points = rows.repeat_interleave(nsamples, 0)
    for p0 in range(0, points.shape[0], batch_size):
        x = points[p0 : p0 + batch_size].clone().requires_grad_()
        out = model(x)
        for j in range(out.shape[1]):
            (g,) = torch.autograd.grad(out[:, j].sum(), x, retain_graph=j < out.shape[1] - 1)


def best_times(contenders: dict, repeats: int) -> dict:
    best = {name: float("inf") for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def peak_memory(batch_size: int, threads: int, rows: int) -> float:
    """Peak resident-set growth (MiB) during one ferroshap Deep run in a fresh process,
    sampled every 2 ms from /proc (the high-water mark would include import transients)."""
    code = f"""
import os, sys, threading, time
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from bench_deep import build
import ferroshap
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
# Untrained (same shapes): no need to spend time training for a memory figure.
model, X = build({threads}, train=False)
explainer = ferroshap.DeepExplainer(model, X[:100], batch_size={batch_size})
explainer.shap_values(X[200:202])  # warm-up: allocator pools, lazy imports
peak, done = [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
before = rss()
thread = threading.Thread(target=sample)
thread.start()
explainer.shap_values(X[200:{200 + rows}])
done.set()
thread.join()
print((peak[0] - before) / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--background", type=int, default=100)
    parser.add_argument("--nsamples", type=int, default=200)
    parser.add_argument(
        "--shap-rows", type=int, help="time shap on the first N rows only (rows/s compared)"
    )
    parser.add_argument("--batch-size", type=int, default=4096, help="ferroshap's and the floor's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--keras", action="store_true", help="also the Keras 3 (TF) model")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch model")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats, args.nsamples = 20, 1, 20

    if args.keras and importlib.util.find_spec("triton") is not None:
        # TensorFlow and triton (loaded by torch.optim) both register LLVM options; the one
        # loaded second aborts the process. Load triton first.
        import triton  # noqa: F401

    results: dict = {"args": vars(args)}
    counts = {"shap": min(args.shap_rows or args.rows, args.rows), "ferroshap": args.rows}
    counts["floor"] = args.rows
    warnings.simplefilter("ignore")
    if args.keras:
        run_keras(args, counts, results)
    if not args.no_torch:
        run_torch(args, counts, results)
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def run_torch(args, counts: dict, results: dict) -> None:
    import numpy as np
    import shap
    import torch

    import ferroshap

    model, X = build(args.threads)
    bg = X[: args.background]
    rows = X[200 : 200 + args.rows]
    n, bs = args.rows, args.batch_size
    shap_rows = rows[: counts["shap"]]
    print(
        f"torch {torch.__version__}, shap {shap.__version__}, ferroshap {ferroshap.__version__}, "
        f"{platform.processor() or platform.machine()}, {args.threads} threads, "
        f"load {os.getloadavg()[0]:.1f}; {n} rows, {args.background} background rows, "
        f"batch_size {bs}"
    )

    ours = ferroshap.DeepExplainer(model, bg, batch_size=bs)
    theirs = shap.DeepExplainer(model, bg)
    a, b = ours.shap_values(shap_rows), theirs.shap_values(shap_rows)
    diff = float(np.abs(a - b).max())
    deep = best_times(
        {
            "shap": lambda: theirs.shap_values(shap_rows),
            "ferroshap": lambda: ours.shap_values(rows),
            "floor": lambda: floor_deep(model, rows, bg, bs),
        },
        args.repeats,
    )
    _report("DeepExplainer", deep, counts, diff)
    results["deep"] = {**deep, "rows": counts, "max_abs_diff": diff}

    g_ours = ferroshap.GradientExplainer(model, bg, batch_size=bs)
    g_theirs = shap.GradientExplainer(model, bg, batch_size=50)
    ns = args.nsamples
    a = g_ours.shap_values(shap_rows, nsamples=ns, rseed=0)
    b = g_theirs.shap_values(shap_rows, nsamples=ns, rseed=0)
    diff = float(np.abs(a - b).max())
    grad = best_times(
        {
            "shap": lambda: g_theirs.shap_values(shap_rows, nsamples=ns, rseed=0),
            "ferroshap": lambda: g_ours.shap_values(rows, nsamples=ns, rseed=0),
            "floor": lambda: floor_gradient(model, rows, ns, bs),
        },
        args.repeats,
    )
    title = f"GradientExplainer (nsamples={ns}; shap at its default batch_size=50)"
    _report(title, grad, counts, diff)
    results["gradient"] = {**grad, "rows": counts, "max_abs_diff": diff}

    if not args.no_memory:
        print("\nferroshap DeepExplainer peak memory (RSS growth during the call, fresh process):")
        results["memory_mib"] = {}
        for size in (256, 1024, 4096, 16384):
            mib = peak_memory(size, args.threads, n)
            results["memory_mib"][size] = mib
            print(f"  batch_size {size:>6}: {mib:8.1f} MiB")


def _report(title: str, times: dict, counts: dict, diff: float) -> None:
    print(f"\n{title}: max |ferroshap - shap| = {diff:.2e}")
    speed = {name: counts[name] / t for name, t in times.items()}
    for name, t in times.items():
        print(f"  {name:>10}: {t:8.3f} s for {counts[name]:4d} rows  {speed[name]:10.1f} rows/s")
    print(
        f"  ferroshap / shap rows/s: {speed['ferroshap'] / speed['shap']:.1f}x;  "
        f"ferroshap time / floor time: {speed['floor'] / speed['ferroshap']:.2f}x;  "
        f"shap / floor: {speed['floor'] / speed['shap']:.1f}x"
    )


if __name__ == "__main__":
    main()
