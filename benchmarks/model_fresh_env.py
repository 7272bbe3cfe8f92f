"""A logged model loads in a brand-new virtual environment: its requirements.txt is all it needs.

    .venv/bin/python benchmarks/model_fresh_env.py [--tracking-uri URI --model models:/returnrisk/1]

Without ``--tracking-uri`` a small demo shop is generated and a model trained on it (fast
parameters) in a temporary MLflow store. Then: the model is downloaded, a new virtual environment
is created with the system's Python, ``pip install -r requirements.txt`` runs from the model
directory — the pinned libraries come from the package index, returnrisk from the wheel logged
in the model's ``code/`` folder — and ``mlflow.pyfunc.load_model`` loads and scores the model's
input example there. Prints each step's time, what was installed, the environment's size, and
whether any warning was printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAST = Path(__file__).resolve().parents[1] / "tests" / "fast_params.yaml"


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--model", default="models:/returnrisk/1")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rr-fresh-env-"))
    uri = args.tracking_uri
    try:
        if uri is None:
            from returnrisk.demo.generator import generate_demo_shop
            from returnrisk.pipeline.params import load_params
            from returnrisk.pipeline.train import run_training
            from returnrisk.tracking import Tracker

            generate_demo_shop(work / "shop", seed=3, n_lines=20_000)
            uri = f"sqlite:///{work}/mlruns/mlflow.db"
            started = time.perf_counter()
            run_training(work / "shop", params=load_params(FAST), tracker=Tracker(uri))
            print(f"trained a model on a 20,000-line demo shop in {time.perf_counter() - started:.0f} s")
        import mlflow

        mlflow.set_tracking_uri(uri)
        model_dir = Path(mlflow.artifacts.download_artifacts(args.model, dst_path=str(work / "model")))
        requirements = (model_dir / "requirements.txt").read_text()
        print("requirements.txt:\n  " + "\n  ".join(requirements.split()))
        env_dir = work / "venv"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
        python = env_dir / "bin" / "python"
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd=model_dir,
                              capture_output=True, text=True)
        install_s = time.perf_counter() - started
        if proc.returncode != 0:
            print(f"pip install -r requirements.txt FAILED after {install_s:.0f} s:\n{proc.stderr[-3000:]}")
            sys.exit(1)
        print(f"new virtual environment + pip install -r requirements.txt: {install_s:.0f} s, "
              f"{_du(env_dir) / 2**20:,.0f} MiB")
        frozen = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()
        print("returnrisk installed as: " + next(x for x in frozen if x.lower().startswith("returnrisk")))
        print("shap installed: " + str(any(x.lower().startswith("shap==") for x in frozen)))
        code = ("import json, time, mlflow, returnrisk; from mlflow.models import Model; t = time.perf_counter(); "
                f"m = mlflow.pyfunc.load_model({str(model_dir)!r}); "
                f"x = Model.load({str(model_dir)!r}).load_input_example({str(model_dir)!r}); out = m.predict(x); "
                "print(json.dumps({'load_and_predict_s': time.perf_counter() - t, 'returnrisk': returnrisk.__file__, "
                "'rows': len(out), 'p_return': out['p_return'].round(4).tolist()}))")
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=work,
                              env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
        if proc.returncode != 0:
            print(f"load_model FAILED:\n{proc.stderr[-3000:]}")
            sys.exit(1)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"mlflow.pyfunc.load_model + predict in the new environment: {result['load_and_predict_s']:.1f} s, "
              f"{result['rows']} rows, p_return {result['p_return']}; returnrisk imported from {result['returnrisk']}")
        warned = [line for line in proc.stderr.splitlines() if "warn" in line.lower() or "\x1b[" in line]
        print(f"warnings printed: {len(warned)}" + ("".join(f"\n  {w}" for w in warned[:5]) if warned else ""))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
