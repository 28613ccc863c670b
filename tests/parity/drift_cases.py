#!/usr/bin/python3
"""Cases for the drift parity test: sample pairs in the /drift shape, and what
scipy.stats (ks_2samp, wasserstein_distance) says about each feature.

  drift_cases.py gen DIR     writes DIR/NNN.base.json, DIR/NNN.win.json, DIR/expected.json
  drift_cases.py check DIR   compares DIR/NNN.out.json (fleetdeck drift --json) and
                             DIR/NNN.rc with the expectations; prints ok/FAIL lines
"""
import json
import os
import sys
import warnings

import numpy as np
import scipy
from scipy import stats

RTOL = 1e-9
ATOL = 1e-300  # near zero: p-values that underflow into subnormals keep few digits


def samples(rng, kind, n1, n2):
    """Two samples of one kind: what a feature's baseline and window may look like."""
    if kind == "same":
        return rng.normal(120, 30, n1), rng.normal(120, 30, n2)
    if kind == "shifted":
        return rng.normal(0, 1, n1), rng.normal(0.25, 1, n2)
    if kind == "scaled":
        return rng.normal(0, 1, n1), rng.normal(0, 1.6, n2)
    if kind == "far":
        return rng.normal(0, 1, n1), rng.normal(3, 1, n2)
    if kind == "ties":
        return rng.integers(0, 6, n1).astype(float), rng.integers(0, 7, n2).astype(float)
    if kind == "coarse":  # few distinct values, heavy ties across the two samples
        return np.round(rng.uniform(0, 1, n1), 1), np.round(rng.uniform(0.05, 1, n2), 1)
    if kind == "disjoint":
        return rng.uniform(0, 1, n1), rng.uniform(2, 3, n2)
    if kind == "interleaved":  # sorted, offset by half a step: D is 1/n exactly
        return np.arange(n1, dtype=float), np.arange(n2, dtype=float) + 0.5
    if kind == "identical":
        a = rng.normal(0, 1, n1)
        return a, (a.copy() if n1 == n2 else rng.normal(0, 1, n2))
    if kind == "lognormal":
        return rng.lognormal(0, 1, n1), rng.lognormal(0.1, 1.1, n2)
    if kind == "constant":
        return np.full(n1, 0.5), np.full(n2, 0.5)
    raise ValueError(kind)


ALL = ["same", "shifted", "scaled", "far", "ties", "coarse", "disjoint", "interleaved", "identical",
       "lognormal", "constant"]
FEW = ["same", "shifted", "ties", "far"]

# (n1, n2, kinds): tiny, unequal, equal, around the exact/asymptotic border, and above it
# with small effective sizes (the asymptotic distribution's every regime).
SIZES = [
    (1, 1, ["same", "disjoint", "constant"]),
    (1, 5, ["same", "disjoint", "ties"]),
    (5, 1, ["same", "disjoint"]),
    (2, 3, ALL), (3, 3, ALL), (7, 7, ALL), (8, 13, ALL), (20, 20, ALL), (33, 50, ALL),
    (100, 100, ALL), (100, 250, ALL), (137, 500, ALL), (500, 500, ALL), (1000, 500, ALL),
    (999, 1000, ALL), (3, 2000, ALL), (1001, 1001, ["interleaved", "same"]),
    (2000, 2000, FEW), (5000, 3000, FEW), (10000, 10000, ["same", "shifted", "interleaved", "ties"]),
    (10000, 9999, ["same", "shifted", "ties"]), (10000, 7, FEW),
    (10001, 10001, ["same", "shifted", "interleaved", "ties", "identical"]),
    (20000, 20000, ["same", "shifted", "far", "coarse"]), (12000, 3, ["same", "shifted", "disjoint"]),
    (15000, 1, ["same", "disjoint"]), (20000, 150, FEW), (30000, 100, FEW), (11000, 9000, FEW),
    (25000, 400, ["same", "shifted", "scaled"]), (10500, 60, ["same", "shifted", "scaled", "far"]),
]


def scipy_ks(a, b):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = stats.ks_2samp(a, b)
    fell_back = any("Exact calculation unsuccessful" in str(x.message) for x in w)
    path = "asymptotic" if max(len(a), len(b)) > 10000 else ("fallback" if fell_back else "exact")
    return float(r.statistic), float(r.pvalue), path


def gen(d):
    rng = np.random.default_rng(20240501)
    expected = {}
    for idx, (n1, n2, kinds) in enumerate(SIZES):
        case = "%03d" % idx
        base, win, exp = {}, {}, {}
        for k in kinds:
            a, b = samples(rng, k, n1, n2)
            s, p, path = scipy_ks(a, b)
            wd = float(stats.wasserstein_distance(a, b))
            base[k], win[k] = a.tolist(), b.tolist()
            exp[k] = {"ks_statistic": s, "ks_pvalue": p, "wasserstein": wd, "path": path}
        with open(os.path.join(d, case + ".base.json"), "w") as f:
            json.dump({"window": n1, "features": base}, f)
        with open(os.path.join(d, case + ".win.json"), "w") as f:
            json.dump({"window": n2, "features": win}, f)
        expected[case] = {"n1": n1, "n2": n2, "features": exp}
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"scipy": scipy.__version__, "cases": expected}, f)


def close(got, want):
    if got is None or want != want:  # NaN in scipy is null in JSON
        return got is None and want != want
    return abs(got - want) <= max(RTOL * abs(want), ATOL)


def check(d):
    with open(os.path.join(d, "expected.json")) as f:
        exp = json.load(f)
    passed = failed = 0
    paths = {}
    worst = 0.0

    def result(good, msg):
        nonlocal passed, failed
        if good:
            passed += 1
            print("ok   " + msg)
        else:
            failed += 1
            print("FAIL " + msg)

    for case, c in sorted(exp["cases"].items()):
        name = "drift parity %s (%d vs %d)" % (case, c["n1"], c["n2"])
        try:
            with open(os.path.join(d, case + ".out.json")) as f:
                out = json.load(f)
            rc = int(open(os.path.join(d, case + ".rc")).read())
        except (OSError, ValueError) as e:
            result(False, "%s: no output (%s)" % (name, e))
            continue
        bad = []
        any_drift = False
        for feat, e in sorted(c["features"].items()):
            paths[e["path"]] = paths.get(e["path"], 0) + 1
            g = out["features"].get(feat)
            if g is None:
                bad.append("%s missing" % feat)
                continue
            for key in ("ks_statistic", "ks_pvalue", "wasserstein"):
                if not close(g[key], e[key]):
                    bad.append("%s %s: fleetdeck %r, scipy %r (%s)" % (feat, key, g[key], e[key], e["path"]))
                elif e[key] and g[key] is not None:
                    worst = max(worst, abs(g[key] - e[key]) / abs(e[key]))
            drifted = e["ks_statistic"] > 0.1
            any_drift |= drifted
            if g["drifted"] != drifted:
                bad.append("%s drifted: %r, want %r" % (feat, g["drifted"], drifted))
            # as the seed writes it: warning below threshold * 1.5 (0.15000000000000002)
            sev = "none" if not drifted else ("warning" if e["ks_statistic"] < 0.1 * 1.5 else "critical")
            if g["severity"] != sev:
                bad.append("%s severity %s, want %s" % (feat, g["severity"], sev))
        if out["drifted"] != any_drift or rc != (1 if any_drift else 0):
            bad.append("document drifted %r exit %d, want %r" % (out["drifted"], rc, any_drift))
        result(not bad, name + ("" if not bad else ": " + "; ".join(bad)))
    for p in ("exact", "fallback", "asymptotic"):
        result(paths.get(p, 0) > 0, "drift parity: scipy's %s p-value path hit by %d features" % (p, paths.get(p, 0)))
    print("# scipy %s, largest relative difference %.3g" % (exp["scipy"], worst))
    return passed, failed


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("gen", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    else:
        p, f = check(sys.argv[2])
        with open(os.path.join(sys.argv[2], "counts"), "w") as fh:
            fh.write("%d %d\n" % (p, f))
