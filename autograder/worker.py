"""The confined process that runs a submission's code: one call per request.

Started by ``autograder.sandbox`` as ``python -I worker.py SCRATCH STUDENT_SITE FD``.
It puts the student build of fundiff (graded bodies stubbed, no reference code)
first on sys.path, runs ``SCRATCH/submission.py`` into a namespace, then serves
requests read from stdin, one JSON line each: ``{"id", "name", "args"}`` where
``args`` names a ``torch.save`` file in SCRATCH. Each answer is one JSON line on
file descriptor FD (the submission's own prints go to SCRATCH/output.log): the
result saved with ``torch.save`` to a file named in the answer, or the error's
type and message. Verdicts are never made here.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _helpers() -> dict[str, object]:
    """Functions the checks can pass as arguments, built here from parameters (never pickled code)."""
    import torch

    def affine_velocity(weight: float, bias: torch.Tensor):
        return lambda x, t: weight * x + t.reshape(-1, *([1] * (x.ndim - 1))) * bias

    def generator(seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    def prediction(eps: torch.Tensor, variance: torch.Tensor | None = None):
        from fundiff.backends.base import Prediction

        return Prediction(eps, variance)

    def linear_predictor(weight: float):  # a noise estimator: eps = weight * x_t + t / 1000
        from fundiff.backends.base import Prediction

        return lambda x, t: Prediction(weight * x + t / 1000)

    return {
        "affine_velocity": affine_velocity,
        "generator": generator,
        "prediction": prediction,
        "linear_predictor": linear_predictor,
    }


def _resolve(value: object, helpers: dict[str, object]) -> object:
    if isinstance(value, dict) and "__helper__" in value:
        return helpers[value["__helper__"]](*[_resolve(a, helpers) for a in value.get("args", [])])  # type: ignore[operator]
    if isinstance(value, dict):
        return {k: _resolve(v, helpers) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v, helpers) for v in value]
    return value


def main() -> None:
    scratch, site, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    answers = os.fdopen(fd, "w", buffering=1)
    log = open(os.path.join(scratch, "output.log"), "w", buffering=1)  # noqa: SIM115 (open for the process's life)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    sys.path.insert(0, site)
    os.chdir(scratch)
    import torch

    namespace: dict[str, object] = {"__name__": "submission"}
    try:
        code = open(os.path.join(scratch, "submission.py")).read()  # noqa: SIM115
        exec(compile(code, "submission.py", "exec"), namespace)
        answers.write(json.dumps({"id": "load", "ok": True}) + "\n")
    except BaseException as err:  # noqa: BLE001 (anything the submission raises is reported)
        answers.write(
            json.dumps(
                {"id": "load", "ok": False, "error": type(err).__name__, "message": str(err)[:500]}
            )
            + "\n"
        )
    helpers = _helpers()
    for line in sys.stdin:
        request = json.loads(line)
        rid = request["id"]
        try:
            fn = namespace.get(request["name"])
            if not callable(fn):
                raise NameError(f"{request['name']} is not defined in the submission")
            args = _resolve(
                torch.load(os.path.join(scratch, request["args"]), weights_only=True), helpers
            )
            result = fn(*args["args"], **args["kwargs"])  # type: ignore[index]
            path = f"result_{rid}.pt"
            torch.save(result, os.path.join(scratch, path))
            answers.write(json.dumps({"id": rid, "ok": True, "result": path}) + "\n")
        except BaseException as err:  # noqa: BLE001
            where = traceback.extract_tb(err.__traceback__)
            line_no = next(
                (f.lineno for f in reversed(where) if f.filename == "submission.py"), None
            )
            answers.write(json.dumps({"id": rid, "ok": False, "error": type(err).__name__,
                                      "message": str(err)[:500], "line": line_no}) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
