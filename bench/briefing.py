"""The weekly briefing at scale: a week of 1,000,000 posts across the sample topics, stage by stage.

    python bench/briefing.py             # 1,000,000 posts (the demo scenario, imported once and kept)
    python bench/briefing.py --quick     # 50,000 posts, under a minute once the store is made
    python bench/briefing.py --compare   # also time the alternatives: plotly+kaleido charts,
                                         # chromium's print to PDF, MinHash near-duplicates

Data: the demo scenario (``monitor.demo``: realistic texts, cascades, a crisis, bots) of the
asked size for the ISO week 2026-W47, imported through the ordinary pipeline into a SQLite store
under ``bench/out/`` (made once, reused; not timed). Then the real :func:`briefings.build.build`
runs, and each stage's wall time and the process's peak resident memory during it (sampled every
10 ms with psutil) are reported: gathering (the store reads), influence (the week's ranking per
topic, computed and stored when missing, without communities), story_clustering, compose,
charts, rendering (HTML with CSS inlined, text) and pdf. The influence stage is run once before
the timed build when ``--warm-influence`` is given (as the scheduled recompute would have done).

The machine is shared (2 cores, 8 engineers): timings are noisy; the table says so. The last line
is one JSON object: ``total_s``, ``peak_mem_mb``, ``stages_s``, ``stages_peak_mb``, ``posts``,
``dominant``, and ``compare`` when asked.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

WEEK = "2026-W47"


class Watch:
    """Peak RSS of this process during each stage, sampled by a thread."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peaks: dict[str, float] = {}
        self.overall = 0.0
        self._current: str | None = None
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop:
            rss = self.proc.memory_info().rss / 2**20
            self.overall = max(self.overall, rss)
            if self._current:
                self.peaks[self._current] = max(self.peaks.get(self._current, 0.0), rss)
            time.sleep(0.01)

    @contextmanager
    def __call__(self, name: str):
        self._current = name
        try:
            yield
        finally:
            rss = self.proc.memory_info().rss / 2**20
            self.peaks[name] = max(self.peaks.get(name, 0.0), rss)
            self._current = None

    def stop(self) -> None:
        self._stop = True
        self._t.join()


def prepare(size: int, out: Path):
    """The store with the demo week of ``size`` posts (made once)."""
    from monitor.config import load_config
    from monitor.demo.generator import ScenarioSpec, generate
    from monitor.replay import import_files
    from monitor.settings import PROJECT_ROOT
    from monitor.store import Store
    from monitor.topics import Matcher

    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    db = out / "store.db"
    done = out / "imported"
    if not done.exists():
        db.unlink(missing_ok=True)
        t = time.perf_counter()
        print(f"making the store: demo week of {size:,} posts into {db} (once) ...", file=sys.stderr)
        generate(out, ScenarioSpec(size=size, seed=11), progress=True)
        store = Store(f"sqlite:///{db}")
        files = sorted((out / "x").glob("*.jsonl")) + sorted((out / "rss").glob("*.xml"))
        import_files(files, store, Matcher(config.topics), batch_size=2000, progress=True)
        store.dispose()
        for f in (out / "x").glob("*.jsonl"):
            f.unlink()
        done.write_text(str(size))
        print(f"store made in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    from monitor.store import Store

    return Store(f"sqlite:///{db}"), config


def compare(store, config, built, week, watch) -> dict:
    """The alternatives, on the same content: plotly+kaleido charts, chromium print, MinHash."""
    import os

    from briefings.gather import gather
    from briefings.render import render_html
    from briefings.stories import cluster

    out: dict = {}
    content = built.content
    n_charts = len(built.rendered.charts)
    # css-inline alone, on the briefing's own HTML
    from briefings.render import _inliner

    raw = render_html(content, built.rendered.charts, inline=False)
    t = time.perf_counter()
    _inliner.inline(raw)
    out["css_inline_s"] = round(time.perf_counter() - t, 4)
    # plotly + kaleido driving the system chromium (never downloading a browser)
    try:
        import kaleido  # noqa: F401
        import plotly.graph_objects as go

        os.environ.setdefault("BROWSER_PATH", "/usr/bin/chromium")
        t = time.perf_counter()
        figs = []
        for tp in content["topics"]:
            f = go.Figure([go.Bar(x=tp["trend"]["weeks"], y=tp["trend"]["posts"]),
                           go.Scatter(x=tp["trend"]["weeks"], y=tp["trend"]["sentiment"], yaxis="y2")])
            f.update_layout(width=560, height=180, yaxis2={"overlaying": "y", "side": "right", "range": [-1, 1]})
            figs.append(f)
            figs.append(go.Figure([go.Bar(x=tp["days"]["days"], y=tp["days"]["posts"])],
                                  layout={"width": 280, "height": 120}))
        pngs = [f.to_image(format="png", scale=2) for f in figs]
        out["plotly_kaleido_charts_s"] = round(time.perf_counter() - t, 3)
        out["plotly_kaleido_charts"] = len(pngs)
    except Exception as exc:  # a missing browser or package is reported, not hidden
        out["plotly_kaleido_charts_s"] = None
        out["plotly_kaleido_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    out["matplotlib_charts_s"] = round(built.stages_s["charts"], 3)
    out["charts"] = n_charts
    # chromium's print to PDF (Playwright, the system chromium)
    try:
        from playwright.sync_api import sync_playwright

        from briefings.archive import browser_html

        row = {"html": built.rendered.html, "text": built.rendered.text, "pdf": built.rendered.pdf, "content": content,
               "content_hash": built.content_hash}
        html = browser_html(row)
        t = time.perf_counter()
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                   args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = b.new_page()
            page.route("**/*", lambda route: route.abort())
            page.set_content(html)
            pdf = page.pdf(format="A4")
            b.close()
        out["chromium_pdf_s"] = round(time.perf_counter() - t, 3)
        out["chromium_pdf_bytes"] = len(pdf)
    except Exception as exc:
        out["chromium_pdf_s"] = None
        out["chromium_pdf_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    out["weasyprint_pdf_s"] = round(built.stages_s["pdf"], 3)
    out["weasyprint_pdf_bytes"] = len(built.rendered.pdf)
    # MinHash near-duplicates: on the top stories only, and on every post's text (one topic)
    g = gather(store, config, week, topics=[content["topics"][0]["id"]])
    tw = next(iter(g.topics.values()))
    t = time.perf_counter()
    base = cluster(tw.posts, g.accounts)
    out["clustering_one_topic_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    nd = cluster(tw.posts, g.accounts, near_duplicates=True)
    out["clustering_with_minhash_top_s"] = round(time.perf_counter() - t, 3)
    out["stories_without_minhash"], out["stories_with_minhash"] = len(base), len(nd)
    try:
        from datasketch import MinHash, MinHashLSH

        from briefings.stories import NUM_PERM, _shingles, normalise_text

        docs = [normalise_text(p.text) for p in tw.posts if p.text and p.kind != "retweet"]
        t = time.perf_counter()
        lsh = MinHashLSH(threshold=0.6, num_perm=NUM_PERM)
        for i, d in enumerate(docs):
            mh = MinHash(num_perm=NUM_PERM, seed=1)
            mh.update_batch(sorted(_shingles(d)))
            lsh.insert(i, mh)
        out["minhash_every_post_s"] = round(time.perf_counter() - t, 3)
        out["minhash_every_post_docs"] = len(docs)
        out["topic_posts"] = len(tw.posts)
    except ImportError as exc:
        out["minhash_every_post_error"] = str(exc)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50,000 posts")
    ap.add_argument("--posts", type=int, default=None)
    ap.add_argument("--compare", action="store_true", help="also time plotly+kaleido, chromium print, MinHash")
    ap.add_argument("--warm-influence", action="store_true",
                    help="compute the week's influence rankings before the timed build (as the scheduled task would)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args(argv)
    size = args.posts or (50_000 if args.quick else 1_000_000)
    out = args.out / f"briefing-{size}"
    out.mkdir(parents=True, exist_ok=True)
    store, config = prepare(size, out)

    from briefings.build import Stages, build, rankings_for
    from briefings.gather import gather
    from briefings.settings import BriefingSettings
    from briefings.week import Week

    week = Week.parse(WEEK)
    bs = BriefingSettings()
    if args.warm_influence:
        rankings_for(store, config, gather(store, config, week), bs.voices_per_topic)
    watch = Watch()
    base_mb = watch.proc.memory_info().rss / 2**20
    stages = Stages(watch)
    t = time.perf_counter()
    built = build(store, config, week, bs, stages=stages)
    total = time.perf_counter() - t
    watch.stop()
    posts = built.content["total_posts"]
    s = stages.seconds
    dominant = max(s, key=s.get)
    print(f"briefing {WEEK}: {posts:,} posts on {len(built.content['topics'])} topics "
          f"(store {size:,} generated tweets), shared machine (2 cores): timings are noisy")
    print(f"{'stage':<18} {'seconds':>8} {'peak RSS MB':>12}")
    for k, v in s.items():
        print(f"{k:<18} {v:>8.2f} {watch.peaks.get(k, 0):>12.0f}")
    print(f"{'total':<18} {total:>8.2f} {watch.overall:>12.0f}   (process at start: {base_mb:.0f} MB)")
    print(f"dominant stage: {dominant} ({s[dominant] / total:.0%}); goal: < 60 s and < 2048 MB: "
          f"{'met' if total < 60 and watch.overall < 2048 else 'NOT met'}")
    result = {"total_s": round(total, 2), "peak_mem_mb": round(watch.overall), "stages_s": {k: round(v, 3) for k, v in s.items()},
              "stages_peak_mb": {k: round(v) for k, v in watch.peaks.items()}, "posts": posts, "store_posts": size,
              "dominant": dominant, "start_mem_mb": round(base_mb)}
    if args.compare:
        c = compare(store, config, built, week, watch)
        print("alternatives (same content):")
        for k, v in c.items():
            print(f"  {k:<34} {v}")
        result["compare"] = c
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
