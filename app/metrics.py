"""The process's Prometheus metrics (prometheus-client, its default registry: the process collector adds CPU seconds
and resident memory). One `dualcam serve` is one process, so no multiprocess mode. Counters and histograms are
updated where things happen; the gauges read from the database (analysis jobs, sittings per state) are set at each
scrape by app.services.live_counts. Names and labels are documented in docs/operations.md."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Route templates, never raw paths: ids in paths would make a series per sitting.
http_requests = Counter("dualcam_http_requests", "HTTP requests answered", ["method", "route", "status"])
http_latency = Histogram("dualcam_http_request_duration_seconds", "HTTP request latency", ["method", "route"], buckets=LATENCY)
upload_bytes = Counter("dualcam_upload_bytes", "Recording bytes received in tus PATCH bodies")
upload_patch_latency = Histogram("dualcam_upload_patch_duration_seconds", "tus PATCH latency (a chunk, read and stored)", buckets=LATENCY)

websockets_open = Gauge("dualcam_websockets_open", "Open WebSockets by role (main, aux, staff)", ["role"])
websocket_closes = Counter("dualcam_websocket_closes", "WebSockets ended, by role and close code", ["role", "code"])
hub_dropped = Counter("dualcam_hub_dropped", "Hub messages dropped: a subscriber's queue was full")

face_pending = Gauge("dualcam_face_pending", "Face engine calls queued or running")
face_busy = Counter("dualcam_face_busy", "Face engine calls refused: too many pending (503 face_engine_busy)")
face_latency = Histogram("dualcam_face_duration_seconds", "Face engine call latency, queueing included", buckets=LATENCY)

analysis_jobs = Gauge("dualcam_analysis_jobs", "Recording analysis jobs by status (all processes)", ["status"])
scheduler_leader = Gauge("dualcam_scheduler_leader", "1 while this process leads the scheduler")
scheduler_lag = Gauge("dualcam_scheduler_lag_seconds", "How late the last scheduler pass started after its tick was due")
scheduler_last_pass = Gauge("dualcam_scheduler_last_pass_timestamp_seconds", "When this process last ran a scheduler pass as leader")
sittings = Gauge("dualcam_sittings", "Sittings per state in each session now open (waiting opened, upload deadline ahead)", ["session_id", "state"])


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
