"""The audit (``tokenauction audit``): replay a recorded auction, or judge a third-party mechanism.

Recorded runs: ``stream`` reads a run folder (a batch of lines at a time; ``blocks`` its
side file's blocks) and checks its hash chain, ``run`` replays each
step, ``step`` verifies the theory on one step's real distributions (also used by the demo),
``checks`` holds the per-step checks, ``report`` the result; ``chunked`` replays the
common linear configuration many steps per numpy call (``entries``: the per-entry
arithmetic; ``uniforms``: the uniforms of many steps at once), ``cluster`` audits many runs
(in-process or on Dask). Mechanisms: ``target`` loads the
class, ``mechanism`` and ``suite`` run the property suite and proofs on it. ``cli`` is the
subcommand.
"""
