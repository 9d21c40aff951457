#!/usr/bin/python3
"""Train, store, serve and monitor a scikit-learn model with modelstore.

    train_and_serve.py [--workdir DIR] [--name NAME] [train|serve|all]

``all`` (the default) runs the whole story, with serving in a second
process, as it happens in production:

1. train: a training run (``Store.start_run``) fits a StandardScaler +
   Ridge regression on scikit-learn's bundled diabetes dataset (no
   download), logs 5-fold cross-validation metrics by step, pushes the
   pickled model with the scaler as a second artifact into the run and
   promotes it; the run is "failed" if anything in it raises;
2. serve (a subprocess): a Loader hands out the production model
   zero-copy (``pickle.loads(memoryview(model))``), predictions on held-out
   rows are logged with a PredictionLogger, their ids written to a file;
3. the actual values arrive in bulk (``Store.record_actuals``: one COPY
   per batch) and ``modelstore report`` shows the version's observed
   error.

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


def train(name):
    _, (x_train, _x_test, y_train, _y_test) = dataset()
    with modelstore.Store() as store:
        with store.start_run(name=name, params=PARAMS,
                             tags={"script": "train_and_serve.py"},
                             dataset_size=len(x_train)) as run:
            folds = KFold(n_splits=PARAMS["folds"], shuffle=True,
                          random_state=PARAMS["random_state"])
            for k, (tr, va) in enumerate(folds.split(x_train)):
                scaler = StandardScaler().fit(x_train[tr])
                m = Ridge(alpha=PARAMS["alpha"]).fit(
                    scaler.transform(x_train[tr]), y_train[tr])
                pred = m.predict(scaler.transform(x_train[va]))
                run.log_metrics({
                    "cv_rmse": mean_squared_error(y_train[va], pred) ** 0.5,
                    "cv_r2": r2_score(y_train[va], pred)}, step=k)
            scaler = StandardScaler().fit(x_train)
            model = Ridge(alpha=PARAMS["alpha"]).fit(
                scaler.transform(x_train), y_train)
            pred = model.predict(scaler.transform(x_train))
            # rmse and r2 also fill the version's score columns.
            version = run.push(
                pickle.dumps(model), model_type="Ridge",
                metrics={"rmse": mean_squared_error(y_train, pred) ** 0.5,
                         "r2": r2_score(y_train, pred),
                         "mae": mean_absolute_error(y_train, pred)},
                extra={"scaler": pickle.dumps(scaler)}, production=True,
                reason="trained by train_and_serve.py")
        info = store.show(name=name)
        got = store.run(run.id)
        cv = got["metrics"]["cv_rmse"]
        assert got["status"] == "finished" and got["versions"] == [version]
        assert cv["count"] == PARAMS["folds"], cv
        assert (info["run_id"], info["model_version"]) == (run.id, version)
        print(f"train: run {run.id} {got['status']}: cv rmse by fold "
              + " ".join(f"{h['value']:.1f}" for h in cv["history"]))
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
        got = store.record_actuals(zip(ids, map(float, y_test)))
        model = pickle.loads(store.pull(version, name=name))
        scaler = pickle.loads(store.pull(version, name=name,
                                         artifact="scaler"))
        # An id no prediction has is reported, not raised: here, none.
        assert got["matched"] == len(ids) and got["unmatched"] == 0, got
        print(f"actuals: {got['matched']} predictions matched in bulk")
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
