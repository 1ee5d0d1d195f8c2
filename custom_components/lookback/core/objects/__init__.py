"""Object detection: models, runtimes (local TFLite, remote API), the shared worker, tracking."""
