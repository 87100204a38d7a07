"""Hub channel names: who hears what. A phone listens on its device's, its sitting's and its session's channel."""

from __future__ import annotations


def session_channel(session_id: object) -> str:
    """Announcements to every phone of a session (phase changes)."""
    return f"session:{session_id}"


def sitting_channel(sitting_id: object) -> str:
    """Both phones of one sitting (state, peer presence, pairing)."""
    return f"sitting:{sitting_id}"


def device_channel(device_id: object) -> str:
    """One phone (commands meant for it alone, such as being replaced)."""
    return f"device:{device_id}"


def staff_session_channel(session_id: object) -> str:
    """Staff watching a session live (the proctors' dashboard): new flags of its sittings."""
    return f"staff:session:{session_id}"
