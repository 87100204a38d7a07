"""One candidate in one session: its derived state, phones, pairing, presence, proctoring, phases, realtime."""
