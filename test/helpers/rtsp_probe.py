#!/usr/bin/python3
"""Reference RTSP client for bench/rtsp-demux.ts and test/integration/rtsp-client.test.ts (via rtsp-probe.ts): GStreamer's rtspsrc over TCP with no jitter buffer (latency=0),
depayloaded to access units. Prints "AU <wall ms> <bytes> <key 0|1>" per access unit as it leaves the depayloader;
runs for SECONDS, then exits. Usage: /usr/bin/python3 rtsp_probe.py RTSP_URL SECONDS
"""
import sys
import time

import gi

gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst  # noqa: E402

Gst.init(None)
url, seconds = sys.argv[1], float(sys.argv[2])
pipe = Gst.parse_launch(
    f'rtspsrc location={url} protocols=tcp latency=0 ! rtph264depay '
    '! video/x-h264,alignment=au,stream-format=byte-stream ! fakesink name=sink signal-handoffs=true sync=false'
)


def on_buffer(_sink, buf, _pad):
    key = 0 if buf.has_flags(Gst.BufferFlags.DELTA_UNIT) else 1
    print(f'AU {time.time() * 1000:.1f} {buf.get_size()} {key}', flush=True)


pipe.get_by_name('sink').connect('handoff', on_buffer)
loop = GLib.MainLoop()
pipe.set_state(Gst.State.PLAYING)
GLib.timeout_add(int(seconds * 1000), loop.quit)
loop.run()
pipe.set_state(Gst.State.NULL)
