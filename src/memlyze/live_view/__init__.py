"""The live view: ``memlyze live PORT`` watches a process recorded with
``--live`` (or ``Tracker(live_port=...)``) while it runs. protocol.py decodes
what the engine's server sends (docs/live.md), connection.py talks to it,
app.py is the Textual terminal UI."""
