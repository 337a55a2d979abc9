"""inference-watchdog: keep a co-hosted ONNX Runtime inference worker alive and cheap.

The daemon supervises the worker, publishes its numbers to CloudWatch every
10 seconds, reads the AWS bill against a baseline and alerts Slack without
flooding it. The import name is ``watchdog``; the distribution, the command
and the systemd unit are all called ``inference-watchdog``.
"""

__version__ = "0.1.0"
