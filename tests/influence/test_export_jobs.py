"""Export files built off the request path (influence.export_jobs): one build per stored run and format
across processes, the file the same as an export of the analysis, a failure kept with its error and
tried again later, the file gone with its run."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import networkx as nx

from influence import export_jobs, jobs, results
from influence.analysis import analyse
from influence.export import export
from monitor import models as m
from monitor.store import Store
from tests.influence.test_jobs import SINCE, T0, UNTIL, fill


def stored_run(store: Store) -> int:
    fill(store)
    jobs.claim(store, "flu", "all", SINCE, UNTIL, False, by="t")
    return jobs.run(store, "flu", SINCE, UNTIL, stakeholders=["chiefmedic"], by="t")


def test_one_build_per_run_and_format_across_processes(store_url):
    stores = [Store(store_url) for _ in range(2)]  # two processes' engines on one database
    rid = stored_run(stores[0])
    started: list[dict] = []
    barrier = threading.Barrier(8)
    answers = []

    def reader(k: int) -> None:
        barrier.wait()
        answers.append(export_jobs.request(stores[k % 2], rid, "gexf", dispatch=lambda **job: started.append(job)))

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1 and started[0]["run_id"] == rid and started[0]["fmt"] == "gexf"
    assert sum(a.started for a in answers) == 1 and all(a.to_dict()["status"] == "preparing" for a in answers)
    assert export_jobs.read(stores[1], rid, "gexf") is None
    export_jobs.build(stores[1], rid, "gexf", by=started[0]["by"])
    assert export_jobs.find(stores[0], rid, "gexf").state == "done"
    assert export_jobs.read(stores[0], rid, "gexf").startswith(b"<?xml")
    # asked again once built: nothing is started, and a retried build leaves the file as it is
    assert export_jobs.request(stores[0], rid, "gexf", dispatch=lambda **job: started.append(job)).state == "done"
    export_jobs.build(stores[0], rid, "gexf")
    assert len(started) == 1
    # another format is another claim
    assert export_jobs.claim(stores[1], rid, "csv", by="b") and not export_jobs.claim(stores[0], rid, "csv", by="a")
    for s in stores:
        s.dispose()


def test_the_file_is_the_export_of_the_runs_analysis(sqlite_store, tmp_path):
    rid = stored_run(sqlite_store)
    for fmt in export_jobs.FORMATS:
        assert export_jobs.claim(sqlite_store, rid, fmt, by="t")
        export_jobs.build(sqlite_store, rid, fmt, stakeholders=["@ChiefMedic"], by="t")
    a = analyse(sqlite_store, "flu", SINCE, UNTIL, platform="all", stakeholders=frozenset({"chiefmedic"}))
    nodes, edges = export(a, tmp_path / "x.csv", "csv", store=sqlite_store)
    assert export_jobs.read(sqlite_store, rid, "csv", "nodes") == nodes.read_bytes()
    assert export_jobs.read(sqlite_store, rid, "csv", "edges") == edges.read_bytes()
    rows = list(csv.DictReader(io.StringIO(nodes.read_text())))
    assert len(rows) == 9 and rows[0]["handle"] == "ChiefMedic" and rows[0]["stakeholder"] == "True"
    (gexf,) = export(a, tmp_path / "x.gexf", "gexf", store=sqlite_store)
    built = nx.read_gexf(io.BytesIO(export_jobs.read(sqlite_store, rid, "gexf")))
    want = nx.read_gexf(gexf)
    assert dict(built.nodes(data=True)) == dict(want.nodes(data=True))
    assert sorted(built.edges(data=True)) == sorted(want.edges(data=True))
    g = nx.read_graphml(io.BytesIO(export_jobs.read(sqlite_store, rid, "graphml")))
    assert g.number_of_nodes() == 9 and g.number_of_edges() == 8


def test_a_failed_build_is_kept_with_its_error_and_tried_again_later(sqlite_store, monkeypatch):
    rid = stored_run(sqlite_store)

    def broken(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("influence.analysis.analyse", broken)
    p = export_jobs.request(sqlite_store, rid, "gexf", dispatch=lambda **job: export_jobs.build(sqlite_store, **job))
    assert p.state == "failed" and "out of memory" in p.error and p.to_dict()["status"] == "failed"
    later = p.finished_at + timedelta(minutes=1)
    assert not export_jobs.claim(sqlite_store, rid, "gexf", by="x", now=later)
    assert export_jobs.claim(sqlite_store, rid, "gexf", by="x", now=p.finished_at + jobs.RETRY_FAILED_AFTER)
    # a running claim whose process died is taken over after CLAIM_EXPIRES
    q = export_jobs.find(sqlite_store, rid, "gexf")
    assert not export_jobs.claim(sqlite_store, rid, "gexf", by="y", now=q.claimed_at + timedelta(minutes=1))
    assert export_jobs.claim(sqlite_store, rid, "gexf", by="y", now=q.claimed_at + jobs.CLAIM_EXPIRES)


def test_the_file_goes_with_its_run(sqlite_store):
    rid = stored_run(sqlite_store)
    export_jobs.claim(sqlite_store, rid, "csv", by="t")
    export_jobs.build(sqlite_store, rid, "csv", by="t")
    assert export_jobs.read(sqlite_store, rid, "csv", "edges")
    assert results.delete_runs(sqlite_store, ["flu"], SINCE, UNTIL) == 1
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(m.influence_exports.select()).first() is None
    assert export_jobs.find(sqlite_store, rid, "csv") is None
