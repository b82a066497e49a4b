"""Influence mapping: who the credible voices on a topic are, from the network, not follower counts.

Python API (what the dashboard and the briefing call)::

    from influence import influencers, explain, network_figure
    r = influencers(store, "social_care", stakeholders=topic.stakeholders)   # stored or computed
    r.accounts[0].score, r.accounts[0].parts, r.rising(5), r.communities
    why = explain(store, r, "@some_handle")                                  # "see why"
    fig = network_figure(r, store=store, top=40)                             # plotly Figure

Modules
-------
:mod:`influence.graph`
    reads a topic's interactions lean from the store and builds the sparse graph;
:mod:`influence.centrality`
    networkx's PageRank, HITS, betweenness and in-degree on that sparse graph;
:mod:`influence.scoring`
    the documented combined influence score;
:mod:`influence.communities`
    Leiden communities (igraph), labelled by top accounts and what sets each apart, and their bridges;
:mod:`influence.bots`
    automation and coordination flags, with evidence;
:mod:`influence.analysis`, :mod:`influence.lookup`, :mod:`influence.results`
    one analysis, the lookup API, stored runs;
:mod:`influence.export`, :mod:`influence.figure`
    GEXF / GraphML / CSV exports and the plotly network picture;
:mod:`influence.tasks`, :mod:`influence.cli`
    the scheduled recompute and ``earshot influencers``.

Performance: how networkx is used at a million edges
----------------------------------------------------
The algorithms are networkx's, and the tests check every measure against the
networkx function on small graphs. What is not networkx's is the graph
container: building a ``networkx.DiGraph`` (dicts of dicts, one Python object
per edge attribute) and converting it back to a scipy matrix inside
``nx.pagerank`` costs far more than PageRank itself. Measured on this machine
by ``bench/influence.py`` (1,000,000 interactions among 200,000 accounts),
see the figures below. Options considered:

- **networkx backends** (``nx.pagerank(G, backend=...)``): the available
  backends need a GPU (nx-cugraph) or a native GraphBLAS build
  (graphblas-algorithms), neither a dependency we want for a government
  laptop install; registering our own backend still needs a graph object.
- **incremental graphs** (keeping a networkx graph in memory and adding new
  interactions): a long-lived process per topic and window, memory in the
  gigabytes at this size, and windows slide, so edges must also leave.
- **building the sparse matrix directly** (chosen): one lean SQL query returns
  three integers per interaction into a numpy array; account ids map to node
  indices through a lookup table; ``scipy.sparse`` builds the weighted
  adjacency; PageRank is networkx's own scipy power iteration
  (``_pagerank_scipy``: same formula, same dangling-node handling, same
  stopping rule) run on that matrix, with a tolerance that suits the size
  (networkx's ``N * tol`` rule with ``tol=1e-6`` stops after two iterations
  at 200,000 nodes and disagrees with igraph on several of the top 100).
  HITS is the same fixed point by power iteration; betweenness is Brandes
  from seeded sampled sources, each a C breadth-first search
  (``scipy.sparse.csgraph``) plus vectorised level sweeps. Graphs are turned
  into networkx objects only for exports; communities are igraph's Leiden.

Measured on this machine (2 CPUs, shared), ``python bench/influence.py``:
1,000,000 interactions (650,132 retweets and quotes) among 184,867 accounts
in a SQLite store, best of 3 runs:

================================  ======  =====  ========  =====  ========  =========
path                              read    build  PageRank  HITS   betw.     total
================================  ======  =====  ========  =====  ========  =========
Earshot, PageRank only            1.28 s  0.06   0.11                       1.46 s
Earshot, full score set           1.72 s  0.09   0.11      0.14   2.25 [1]  4.34 s
igraph (edge list in memory) [2]          0.85   0.09                       0.94 s
networkx DiGraph + nx.pagerank [2]        2.52   2.48                       5.00 s
================================  ======  =====  ========  =====  ========  =========

[1] 32 sampled sources (:func:`influence.scoring.betweenness_sources`).
[2] From the edge rows already in memory: the SQL read is charged to Earshot only.
    The networkx row comes from ``--networkx``, a separate run in which igraph took 1.09 s.

PageRank-only is 1.55x igraph's build plus PageRank (goal: 3x), the full set
4.6x (goal: 15x), Earshot's top 100 by PageRank equals igraph's (100/100),
and the measuring process peaks at 439 MB. Reading the rows from SQLite is
most of Earshot's time; networkx's own PageRank is already scipy-based, so the
plain networkx path is "only" 4.6x igraph here (5.0 s, before any SQL read),
and the gain of the sparse path is mostly not building dict-of-dict graphs.
The whole :func:`influence.analysis.analyse` of that topic (flags, Louvain
communities, labels) takes about 46 s, 32 s of it networkx's Louvain, and
peaks near 1.1 GB: fine for the hourly task, which is why lookups read stored
runs.
"""

from influence.analysis import AccountScore, Analysis, Ranking, analyse
from influence.communities import Community
from influence.figure import network_figure
from influence.lookup import InfluenceError, Why, explain, influencers, stored
from influence.scoring import MEASURES, WEIGHTS

__all__ = [
    "AccountScore",
    "Analysis",
    "Community",
    "InfluenceError",
    "MEASURES",
    "Ranking",
    "WEIGHTS",
    "Why",
    "analyse",
    "explain",
    "influencers",
    "network_figure",
    "stored",
]
