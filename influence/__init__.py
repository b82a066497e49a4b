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
  from seeded sampled sources (networkx's sample), compiled by numba
  (:mod:`influence._brandes`). Graphs are turned into networkx objects only
  for exports; communities are igraph's Leiden.

The whole scheduled recompute, measured by ``python bench/influence.py --db
/tmp/scores2/full.db`` on this machine (2 CPUs shared with other engineers'
work; compare ratios made in the same run), December 2026, after the bot
flags' burst candidates by hash and the reads below: 1,001,200 interactions
among 184,897 accounts in a SQLite store whose previous 30 days hold as many,
best of 3 runs (load 1.6 falling to 1.2):

==============================================  ========  ========  ========
the scheduled recompute (both variants, stored)  seconds   earlier   before
==============================================  ========  ========  ========
read the interactions (once)                     0.62      1.04      2.0
bot and coordination flags (once)                2.21      3.12      14.2
scores (both variants)                           1.54      1.79      5.5
communities: Leiden search (both variants)       1.92      2.16      3.8
communities: labels (both variants)              0.29      0.33      0.4
the rest (posts, features, graphs, storing)      1.03      1.10      3.5
recompute, whole                                 7.60      9.53      29.4
recompute without the bot flags                  5.40      6.41      15.2
igraph: build + PageRank + multilevel [1]        2.10      2.47      3.35
recompute / igraph                               3.62x     3.87x     8.8x
==============================================  ========  ========  ========

Runs 7.60, 7.91 and 8.33 s (igraph 2.10, 2.31, 2.12 s); cold 12.38 s (runs
14.97, 12.38, 13.05; flags 4.45 s; 5.9x); peak memory 1,261 MB (goal: 2 GB);
top-100 overlap with igraph's PageRank 100/100; Leiden's NMI with the planted
communities 0.911. "earlier" is the run of the same day before the last
changes (16:10, load 4.4 to 2.2), "before" the November run (29.4 s best of
29.4/41.3/39.2, at load 5, with an empty previous window). igraph's own time
moves with the load (1.9 to 3.3 s in this day's runs, PageRank alone 0.07 to
0.40 s), and the ratio with it: a run at 16:30 (load 2.4-3.0) gave 8.22 s
against 1.92 s, 4.28x, for nearly the same code.
The goal (within 3x of igraph's PageRank plus community detection) is **not
met**: 3.62x. What is left is igraph's Leiden (C, 1.3 s of the 1.9, and 0.4 s
building its graphs through ``add_edges``), betweenness (numba, 1.0 s of the
1.5), the flags and SQLite's reads. What changed last: the interactions come
back from SQLite as one ``group_concat`` text of packed integers that numpy
parses (0.66-0.77 s against 0.90-0.95 s for the million rows), label features
coded once per distinct hashtag list or links text, betweenness's graph made
without ``setdiag`` (which inserted a diagonal to drop it again), the second
variant's Leiden start looked up from arrays. Earlier: betweenness compiled by
numba (32 sources at 185,000 accounts: 0.5-0.7 s a variant, was 2.5-2.9 s;
igraph's ``betweenness(sources=...)`` takes 2.5-3.7 s), posts per account
counted with numpy without the join to ``posts`` (and taken from the flags,
which count them as they read the posts), label features counted with numpy,
igraph graphs built through ``add_edges`` from numpy (the reference too).
Tried and dropped: Leiden with one iteration for the first variant (0.35 s
less, but the partition it gives is not stable under a restart: a test
fails), betweenness in two threads (no faster on this shared machine), reading
the label posts by id after one scan (no faster), a covering index
``post_topics(topic, created_at, post_id, account_id)`` (about 0.15 s less over
the three reads that walk the topic's tags, for a migration and one more index
write per tag at ingest: not worth it), igraph's graph from tuples or lists
(0.24 and 0.77 s against 0.20 s from numpy for the 935,000-edge Leiden graph).

[1] From the edge rows already in memory (the SQL read is charged to Earshot
only), built through ``add_edges`` from a numpy array, igraph's fastest input.

The previous window. The hourly task compares each ranking with the previous
30 days (rank changes, "rising voices"). That window moves by an hour every
hour, so an exact stored run for it is never there; until December 2026 the task
computed it every hour (read, flags, scores: about as much again), and the bench
did not see it (its previous window was empty). Now a stored run of the same
length whose window ends within a thirtieth of the length of the window's start
(a day at 30 days, :data:`influence.results.PREVIOUS_SLACK`) stands for it, and
the ranking names the window it compares with: the previous window is computed
once a day. The bench times the recompute as the task finds the store (the
previous window's runs stored an hour before: ``recompute_s``) and cold, on an
empty store (``recompute_cold_s``: 18.2 s, of which flags 5.6 s, 7.4x; runs
31.3, 20.2, 18.2 s). What the two variants are and share: the
ranking with every interaction, and the ranking without the interactions of
flagged accounts. They share the read, the flags, the posts per account, the
label features, the previous window, and the first variant's camps
(the second's Leiden starts from them and needs one iteration, not two: the
same partition, ``communities.LEIDEN_WARM_ITERATIONS``); when nobody is
flagged the second is the first stored again. Scores cannot be shared: the
network differs.

Community method, on the same graph (NMI against the bench's 60 planted
communities), same run: igraph's multilevel (Louvain) 2.3 s, modularity
0.8259, NMI 0.910; igraph's Leiden 1.6 s, 0.8259, 0.911. networkx's Louvain
took 86 s for the same modularity in an earlier run (``--networkx``). Leiden is
kept: it guarantees connected communities, agreed best with the LFR
benchmark's groups (``tests/influence``), and is a small share of the recompute.

Betweenness sample, on an 18,543-account graph of the same kind against exact
betweenness (igraph's, 25.0 s), mean of 3 seeds (December 2026 run above):

========  ====================  =======  ======================
sources   top-50 brokers        seconds  top-50 by score
          shared with exact              shared with exact
========  ====================  =======  ======================
32        23                    0.04     46.7
64        28.3                  0.06     47.3
128       31                    0.12     47.0
175 [2]   36.3                  0.16     47.7
256       39.7                  0.22     47.7
========  ====================  =======  ======================

[2] What Earshot samples at this size (30 million arc visits).

igraph does not make betweenness cheaper here: its subset betweenness from the
same sampled sources took 2.5-3.7 s for 32 sources at 185,000 accounts against
0.5-0.7 s for Earshot's numba searches (and the numpy level sweeps before them
2.5-2.9 s), and its cutoff betweenness 9.3 s (cutoff 2), 45.9 s (3) and 127 s
(4) already at 18,543 accounts. At the full size a source costs about 20 ms, so
256 sources would add 4.5 s to each variant for one more place in the top 50 by
score (47.7 against 46.7): the sample stays at 32 sources at this size
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
