"""The demo scenario's week loaded into a store as the service would have it: for the tests and benchmarks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def load_week(store, config, work: Path, size: int, seed: int, *, before_detect=(), progress: bool = False) -> tuple[dict, dict]:
    """Fill ``store`` with the demo scenario's week at ``size`` tweets: (ground truth, seconds per step).

    The generated files go through the ordinary importer (``monitor.replay.import_files``), then
    the ``before_detect`` batches through ``process_batch``; then the alert engine runs once over
    the week in data time (as per-batch detection would, in one pass) and the influence rankings
    are computed and stored as the hourly task does.
    """
    import time

    from influence.tasks import recompute
    from monitor.alerts.engine import detect
    from monitor.demo.generator import ScenarioSpec, generate
    from monitor.pipeline import process_batch
    from monitor.replay import import_files
    from monitor.settings import load_settings
    from monitor.topics import Matcher

    matcher = Matcher(config.topics)
    timings = {}
    t0 = time.perf_counter()
    truth = generate(work / "scenario", ScenarioSpec(size=size, seed=seed), progress=progress)
    timings["generate_s"] = time.perf_counter() - t0
    files = sorted((work / "scenario" / "x").glob("*.jsonl")) + sorted((work / "scenario" / "rss").glob("*.xml"))
    settings = load_settings()
    t0 = time.perf_counter()
    import_files(files, store, matcher, batch_size=settings.batch_size, progress=progress)
    for batch in before_detect:
        process_batch(batch, store, matcher, run_hooks=False)
    timings["import_s"] = time.perf_counter() - t0
    end = datetime.fromisoformat(truth["end"])
    t0 = time.perf_counter()
    detect(store, config, settings, horizon=end, now=end, dispatch=False)
    timings["detect_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    recompute(store, config, now=end)
    timings["rank_s"] = time.perf_counter() - t0
    return truth, timings
