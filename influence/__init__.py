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

The whole scheduled recompute, measured by ``python bench/influence.py`` on this
machine (2 CPUs shared with other engineers' test suites; compare ratios made in
the same run): 1,001,200 interactions among 184,897 accounts in a SQLite store,
best of 3 runs (runs 29.4, 41.3 and 39.2 s; igraph 3.43, 3.55 and 3.35 s):

==============================================  ========
the scheduled recompute (both variants, stored)  seconds
==============================================  ========
read the interactions (once)                     2.0
bot and coordination flags (once)                14.2
scores (both variants)                           5.5
communities: Leiden search (both variants)       3.8
communities: labels (both variants)              0.4
recompute, whole                                 29.4
igraph: build + PageRank + multilevel [1]        3.35
recompute / igraph                               8.8x
==============================================  ========

[1] From the edge rows already in memory (the SQL read is charged to Earshot
only), built from a list of tuples, igraph's fastest input (an earlier version
of the bench passed a numpy array, which costs igraph a second more).

The goal (within 3x of igraph's PageRank plus community detection) is **not
met**: 8.8x (the first version measured 8.5x, 314.9 s / 36.9 s, under a heavier
load, on the bench's old texts and with the slower igraph input). Right after
this run, the code before these changes took 38.0 and 40.2 s on the same store
against 27.7 and 26.5 s for this code (runs alternated), and 28.5 s against
24.2 s on a store of the bench's old texts. Peak memory 1,005 MB
(goal: 2 GB). What the two variants are and share: the
ranking with every interaction, and the ranking without the interactions of
flagged accounts. They share the read, the flags, the posts per account, the
label features, the previous window's inputs, and the first variant's camps
(the second's Leiden starts from them and needs one iteration, not two: the
same partition, ``communities.LEIDEN_WARM_ITERATIONS``); when nobody is
flagged the second is the first stored again. Scores cannot be shared: the
network differs. What was done: flags stored from evidence built once (a deep
copy per signal took 15 s under cProfile at 120,000 accounts with a signal), per-account
signals with numpy, near-duplicate texts as numpy work over integer codes of
word pairs (MinHash with multiply-shift hashes, bands keyed by one integer),
igraph graphs built from tuples, community labels and bridges on arrays. The
bench's own texts were wrong before (words with digits that the normalisation
strips: every text was the same, 59,000 accounts flagged for duplicate text,
and MinHash had nothing to do); now the near-duplicate search over 450,000
texts is most of the flags' 14 s, and the flags the largest part left.

Community method, on the same graph (NMI against the bench's 60 planted
communities), same run: igraph's multilevel (Louvain) 2.3 s, modularity
0.8259, NMI 0.910; igraph's Leiden 1.6 s, 0.8259, 0.911. networkx's Louvain
took 86 s for the same modularity in an earlier run (``--networkx``). Leiden is
kept: it guarantees connected communities, agreed best with the LFR
benchmark's groups (``tests/influence``), and is a small share of the recompute.

Betweenness sample, on an 18,543-account graph of the same kind against exact
betweenness (igraph's, 45.1 s), mean of 3 seeds:

========  ====================  =======  ======================
sources   top-50 brokers        seconds  top-50 by score
          shared with exact              shared with exact
========  ====================  =======  ======================
32        23                    0.15     46.7
64        28.3                  0.24     47.3
128       31                    0.48     47.0
256       39.7                  1.43     47.7
========  ====================  =======  ======================

igraph does not make betweenness cheaper here: its subset betweenness from the
same sampled sources took 6.98 s for 32 sources at 185,000 accounts against
6.14 s for Earshot's (61.7 s against 36.5 s for 256), and its cutoff
betweenness 9.3 s (cutoff 2), 45.9 s (3) and 127 s (4) already at 18,543
accounts. At the full size a source costs about 0.15 s, so 256 sources would add
30 s to each variant for one more place in the top 50 by score (47.7 against
46.7): the sample stays at 32 sources at this size
(:data:`influence.scoring.BETWEENNESS_MIN_SOURCES`; smaller graphs get more,
exact below 30 million arc visits), and the brokers listed beside communities
should be read as "among the bridges" (23 of the exact top 50), not as an exact
order.
"""

from influence.analysis import AccountScore, Analysis, Ranking, analyse
from influence.communities import Community
from influence.figure import network_figure
from influence.lookup import InfluenceError, NotStored, Why, explain, influencers, stored
from influence.scoring import MEASURES, WEIGHTS

__all__ = [
    "AccountScore",
    "Analysis",
    "Community",
    "InfluenceError",
    "MEASURES",
    "NotStored",
    "Ranking",
    "WEIGHTS",
    "Why",
    "analyse",
    "explain",
    "influencers",
    "network_figure",
    "stored",
]
