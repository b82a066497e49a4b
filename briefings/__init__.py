"""The weekly ministerial briefing: gather -> stories -> compose -> render -> review -> send -> archive.

Each stage is a plain function (timed by ``bench/briefing.py``); the CLI (``earshot briefing``), the
Celery task (``earshot.briefing_draft``) and the dashboard's pages are thin wrappers over them::

    from briefings.build import build
    from briefings.archive import save_build, edit, approve, send
    built = build(store, config, Week.parse("2026-W47"), settings)   # nothing stored yet
    row, new = save_build(store, built, by="alice")                  # a draft in the archive

Modules
-------
:mod:`briefings.week`       the ISO week in the briefing's time zone
:mod:`briefings.settings`   ``config/briefing.yaml``: recipients, editors, who may be named
:mod:`briefings.gather`     the week read from the store (rollups, topic posts, alerts, coverage)
:mod:`briefings.stories`    posts grouped into stories
:mod:`briefings.privacy`    who is named, and "a member of the public"
:mod:`briefings.compose`    the content (JSON-able, private individuals masked)
:mod:`briefings.charts`     matplotlib PNGs
:mod:`briefings.render`     HTML e-mail (css-inline), text, PDF (WeasyPrint), the MIME message
:mod:`briefings.build`      the stages in order, timed
:mod:`briefings.archive`    drafts, edits, approval, sending, history
:mod:`briefings.tasks`      the Monday draft; :mod:`briefings.cli` ``earshot briefing``
"""
