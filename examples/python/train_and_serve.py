#!/usr/bin/python3
"""Train, store, serve and monitor a scikit-learn model with modelstore.

    train_and_serve.py [--workdir DIR] [--name NAME] [train|serve|all]

``all`` (the default) runs the whole story, with serving in a second
process, as it happens in production:

1. train: fit a StandardScaler + Ridge regression on scikit-learn's
   bundled diabetes dataset (no download), 5-fold cross-validation logged
   per fold, push the pickled model with the scaler as a second artifact,
   promote it;
2. serve (a subprocess): a Loader hands out the production model
   zero-copy (``pickle.loads(memoryview(model))``), predictions on held-out
   rows are logged with a PredictionLogger, their ids written to a file;
3. the actual values arrive in bulk (``Store.record_actuals``) and
   ``modelstore report`` shows the version's observed error.

Needs DATABASE_URL (or PG* variables) and, for step 3, the CLI: $MS_CLI,
else ``modelstore`` on PATH.  Uses /usr/bin/python3 with python3-sklearn.
"""
import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.preprocessing import StandardScaler

import modelstore

PARAMS = {"alpha": 1.0, "folds": 5, "test_size": 0.2, "random_state": 7}


def dataset():
    """The same split in every process: train rows and held-out rows."""
    data = load_diabetes()
    return data.feature_names, train_test_split(
        data.data, data.target, test_size=PARAMS["test_size"],
        random_state=PARAMS["random_state"])


class RunLog:
    """Where a training run is recorded: THE place to switch to runs.

    Today params and metrics travel with the push (``Store.push(params=,
    metrics=)``) and per-fold metrics are kept as "fold<k>_<metric>".
    When ``Store.start_run`` exists (issue 10, section 1), this becomes::

        with store.start_run(name=name, params=PARAMS) as run:
            run.log_metric("rmse", rmse, step=fold) ...
            run.push(model_bytes, extra=..., production=True)
    """

    def __init__(self, store, name, params):
        self.store, self.name, self.params = store, name, dict(params)
        self.metrics = {}

    def log_metric(self, key, value, step=None):
        k = key if step is None else f"fold{step}_{key}"
        self.metrics[k] = float(value)

    def push(self, model_bytes, **kw):
        return self.store.push(model_bytes, name=self.name,
                               params=self.params, metrics=self.metrics, **kw)


def train(name):
    _, (x_train, _x_test, y_train, _y_test) = dataset()
    with modelstore.Store() as store:
        run = RunLog(store, name, PARAMS)
        folds = KFold(n_splits=PARAMS["folds"], shuffle=True,
                      random_state=PARAMS["random_state"])
        for k, (tr, va) in enumerate(folds.split(x_train)):
            scaler = StandardScaler().fit(x_train[tr])
            m = Ridge(alpha=PARAMS["alpha"]).fit(
                scaler.transform(x_train[tr]), y_train[tr])
            pred = m.predict(scaler.transform(x_train[va]))
            run.log_metric("rmse", mean_squared_error(y_train[va], pred)
                           ** 0.5, step=k)
            run.log_metric("r2", r2_score(y_train[va], pred), step=k)
        scaler = StandardScaler().fit(x_train)
        model = Ridge(alpha=PARAMS["alpha"]).fit(scaler.transform(x_train),
                                                 y_train)
        pred = model.predict(scaler.transform(x_train))
        run.log_metric("rmse", mean_squared_error(y_train, pred) ** 0.5)
        run.log_metric("r2", r2_score(y_train, pred))
        run.log_metric("mae", mean_absolute_error(y_train, pred))
        version = run.push(pickle.dumps(model), model_type="Ridge",
                           extra={"scaler": pickle.dumps(scaler)})
        store.promote(version, name=name, reason="trained by "
                      "train_and_serve.py")
        info = store.show(name=name)
        print(f"train: pushed {name} {version} ({info['model_size_bytes']} "
              f"bytes, r2 {info['r2_score']:.3f}, rmse "
              f"{info['rmse_score']:.1f}) and promoted it")
        return version


def serve(name, workdir):
    """The inference process: zero-copy model, logged predictions."""
    features, (_x_train, x_test, _y_train, _y_test) = dataset()
    with modelstore.Store() as store:  # the scaler: a second artifact
        scaler = pickle.loads(store.pull(name=name, artifact="scaler"))
    with modelstore.Loader(fallback_dir=os.path.join(workdir, "models"),
                           watch=False) as loader, \
            modelstore.PredictionLogger(
                spool_dir=os.path.join(workdir, "spool")) as logger:
        model = loader.get(name)
        with memoryview(model) as view:  # no copy of the model's bytes
            estimator = pickle.loads(view)
        ids = []
        for row in x_test:
            y = float(estimator.predict(scaler.transform(row[None, :]))[0])
            ids.append(logger.log(
                model.version, dict(zip(features, map(float, row))), y,
                name=name))
        logger.flush(timeout=60)
        print(f"serve: {model.version} from {model.source}, "
              f"{len(ids)} predictions logged ({logger.stats()['written']} "
              f"written)")
    with open(os.path.join(workdir, "predictions.json"), "w") as f:
        json.dump(ids, f)


def actuals_and_report(name, workdir, version):
    _, (_x_train, x_test, _y_train, y_test) = dataset()
    with open(os.path.join(workdir, "predictions.json")) as f:
        ids = json.load(f)
    with modelstore.Store() as store:
        n = store.record_actuals(zip(ids, map(float, y_test)))
        model = pickle.loads(store.pull(version, name=name))
        scaler = pickle.loads(store.pull(version, name=name,
                                         artifact="scaler"))
        print(f"actuals: {n} recorded in bulk")
        row = next(r for r in store.report(name)["versions"]
                   if r["model_version"] == version)
    cli = os.environ.get("MS_CLI") or shutil.which("modelstore")
    if cli:
        subprocess.run([cli, "--name", name, "report"], check=True)
    # What the monitoring views say must be what we compute here.
    expected = mean_absolute_error(y_test,
                                   model.predict(scaler.transform(x_test)))
    assert row["predictions_with_actual"] == len(ids), row
    assert abs(row["mean_absolute_error"] - expected) < 1e-6, (row, expected)
    print(f"observed error of {version}: MAE "
          f"{row['mean_absolute_error']:.2f}, RMSE {row['rmse']:.2f} "
          f"over {row['predictions_with_actual']} predictions")
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", nargs="?", default="all",
                    choices=("train", "serve", "all"))
    ap.add_argument("--workdir", default=".")
    ap.add_argument("--name", default="diabetes")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    if a.mode == "train":
        train(a.name)
    elif a.mode == "serve":
        serve(a.name, a.workdir)
    else:
        modelstore.migrate()
        version = train(a.name)
        subprocess.run([sys.executable, os.path.abspath(__file__), "serve",
                        "--workdir", a.workdir, "--name", a.name],
                       check=True)
        actuals_and_report(a.name, a.workdir, version)


if __name__ == "__main__":
    main()
