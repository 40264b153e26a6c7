"""What the wire saw: packet captures read into per-connection byte streams, TLS opened
with the endpoints' key logs, and HTTP/1.1 and HTTP/2 exchanges found in them, each
stamped with the kernel's capture time.

Pure functions over stored files (no capture, no privileges): the local platform uses them
to turn a trial's captures into per-request timestamps, and analysis can re-read kept
captures anywhere. Pipeline: :mod:`.pcap` (packets) -> :mod:`.tcp` (streams) ->
:mod:`.tls` (plaintext streams) -> :mod:`.http` (exchanges).
"""
