"""The staff's conduct review of a sitting: claims, flag verdicts, incidents and decisions with a second look."""
