"""attnjit.tune / attnjit.best: the tuning library from Python, progress shown and logged."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Union

from . import _attnjit
from ._problem import Problem, key_of
from ._runtime import Runtime, default_runtime

log = logging.getLogger("attnjit.tune")


@dataclass(frozen=True)
class Candidate:
    """One tile config's fate: status ok | compile_error | pruned | wrong_result | launch_error |
    timeout | skipped; median / IQR in ms when ok; from_db when reused from the database."""

    config: str
    status: str
    reason: str
    median_ms: float
    iqr_ms: float
    tflops: float
    gbps: float
    from_db: bool


@dataclass(frozen=True)
class TuneResult:
    """One problem's tuning: the chosen config (None when nothing ran correctly), its median
    beside the built-in default's, and every candidate considered. ``error`` says why a problem
    could not be tuned at all (empty otherwise)."""

    problem: str
    template: str
    best: Optional[str]
    best_ms: float
    default_config: str
    default_ms: float
    speedup: float
    seconds: float
    error: str
    candidates: List[Candidate] = field(default_factory=list)


@dataclass(frozen=True)
class BestConfig:
    """The config a runtime would run for a problem, and where it came from (source: "db:exact",
    "db:nearest_bucket:<key>", "db:same_arch:<key>" or "default")."""

    problem: str
    config: str
    source: str
    explanation: str
    median_ms: Optional[float]


class _Progress:
    """Tuner events -> a tqdm bar per problem (if tqdm is installed) or plain lines on stderr."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: Any = None
        try:
            import tqdm  # noqa: F401

            self.tqdm: Any = tqdm.tqdm
        except ImportError:
            self.tqdm = None

    def __call__(self, e: dict) -> None:
        kind = e["kind"]
        where = f"[{e['index']}/{e['count']}] {e['problem']}"
        if kind == "problem_started":
            log.info("%s: %d candidates (%d from the database)", where, e["total"], e["done"])
            if self.enabled and self.tqdm is not None:
                self.bar = self.tqdm(total=e["total"], desc=where, unit="cfg", file=sys.stderr, leave=True)
            elif self.enabled:
                print(f"attnjit tune {where}: {e['total']} candidates", file=sys.stderr)
        elif kind == "candidate":
            log.debug("%s %s %s: %s %.4f ms", where, e["phase"], e["config"], e["status"], e["median_ms"])
            if self.bar is not None:
                self.bar.n = e["done"]
                self.bar.total = e["total"]
                self.bar.set_postfix_str(f"{e['phase']} best {e['best_ms']:.4f} ms" if e["best_ms"] else e["phase"])
        elif kind in ("problem_done", "problem_failed"):
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            if kind == "problem_done":
                msg = f"best {e['config']} {e['median_ms']:.4f} ms" if e["config"] else "no correct candidate"
                log.info("%s: %s", where, msg)
            else:
                msg = f"failed: {e['status']}"
                log.warning("%s: %s", where, msg)
            if self.enabled and self.tqdm is None:
                print(f"attnjit tune {where}: {msg}", file=sys.stderr)


def tune(problems: Union[str, Problem, Iterable[Union[str, Problem]]], *, db: str, strategy: str = "exhaustive",
         budget: Union[int, str, None] = None, progress: bool = True, backend: str = "auto",
         measure_seconds: float = 1.0, seed: int = 0, threads: int = 0,
         on_event: Optional[Callable[[dict], None]] = None) -> List[TuneResult]:
    """Tune problems (keys or dataclasses) on this machine's device into the tuning database ``db``.

    strategy: "exhaustive" (every candidate), "random" (a seeded sample) or "halving"
    (successive halving). budget: a candidate count (int or "N"), seconds ("Ns") or both
    ("40,300s"). Resumable: candidates already in ``db`` are not measured again. Progress: a
    tqdm bar per problem when tqdm is installed, plain lines on stderr otherwise
    (``progress=False``: none); every event also goes to the ``attnjit.tune`` logger and to
    ``on_event(dict)``. The CLI (``attnjit db best --db FILE --problem KEY``) reads the same
    database. Returns one TuneResult per problem; a problem that cannot be tuned has ``error``.
    """
    if isinstance(problems, (str, dict)) or not isinstance(problems, Iterable):
        problems = [problems]  # type: ignore[list-item]
    keys = [key_of(p, "problems") for p in problems]  # type: ignore[union-attr]
    if not isinstance(db, str) or not db:
        raise TypeError("db: expected the path of a tuning database")
    if budget is None:
        budget_s = ""
    elif isinstance(budget, bool) or not isinstance(budget, (int, str)):
        raise TypeError(f"budget: expected an int (candidates) or a string like '40,300s', got {type(budget).__name__}")
    else:
        budget_s = str(budget)
    show = _Progress(progress)

    def handler(e: dict) -> None:
        show(e)
        if on_event is not None:
            on_event(e)

    raw = _attnjit.tune(keys, db, backend, strategy, budget_s, float(measure_seconds), int(seed), int(threads), handler)
    out = []
    for r in raw:
        cands = [Candidate(**c) for c in r.pop("candidates")]
        out.append(TuneResult(candidates=cands, **r))
    return out


def best(problem: Union[str, Problem], *, db: str, runtime: Optional[Runtime] = None,
         backend: str = "cpu") -> BestConfig:
    """The config attnjit would run for ``problem`` on ``runtime``'s device (default: the default
    runtime of ``backend``, "cpu" or "cuda") with ``db`` as its tuning database: the exact tuned
    entry, else the nearest tuned bucket, else the same arch, else the built-in default."""
    rt = runtime if runtime is not None else default_runtime(backend)
    return BestConfig(**_attnjit.best(key_of(problem), db, rt))
