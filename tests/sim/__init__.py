"""Camera simulator for Lookback's tests: realistic media, an RTSP server and a camera handle.

``media`` makes camera-like clips with PyAV, ``rtsp_server`` is a GStreamer RTSP server run
by the system Python (the only one with ``gi``), ``camera`` drives it from the venv.
"""
