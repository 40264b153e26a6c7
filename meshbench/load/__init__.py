"""Open-loop load generation (Locust underneath) and latency recording."""
