"""Flags: stretches of a sitting worth a reviewer's look, whatever found them, and what a sitting's flags add up to.

- `recording` flags come from the analysis of each verified recording (app.flags) in worker processes, one
  analysis job per recording's bytes and analyzer version (jobs, queue, runner, worker);
- `live` flags from the main phone's stills while answering, in the same transaction as the in-exam check (live);
- `event` flags from the stored facts: interruptions, replaced phones, short recordings (events).

All of them are stored once per origin (store), shown on one timeline with the sitting's risk (triage).
"""
