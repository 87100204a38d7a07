"""Recordings: the exam's upload rules on the tus server, verification, progress and signed links."""
