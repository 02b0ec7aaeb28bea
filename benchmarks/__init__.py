"""Operator benchmarks: forwarding throughput, CPU per forwarded packet, loss and latency."""
