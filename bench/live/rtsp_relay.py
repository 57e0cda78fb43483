#!/usr/bin/python3
"""Loopback RTSP server for bench/live.ts (GStreamer, same approach as test/helpers/rtsp_server.py).

  /usr/bin/python3 rtsp_relay.py udp UDP_PORT                  -> rtsp://127.0.0.1:PORT/live
      serves RTP/H.264 that another process (bench/live/source.ts) sends to 127.0.0.1:UDP_PORT
  /usr/bin/python3 rtsp_relay.py clip CLIP.mp4 N               -> rtsp://127.0.0.1:PORT/live0 .. /live{N-1}
      plays CLIP.mp4 in real time, looped without re-encoding, and serves it as N independent mounts (one
      feed, fanned out to N loopback UDP ports; each mount is its own RTSP media, so N cameras = N connections)

Prints "READY <port>" once it listens; runs until killed. Every mount depacketizes and repacketizes with
SPS/PPS before each key frame (config-interval=-1), so a client can join at any time.
"""
import socket
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
mode = sys.argv[1]
loop = GLib.MainLoop()
CAPS = 'application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96'


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


mounts = {}  # path -> udp port
feed = None
if mode == 'udp':
    mounts['/live'] = int(sys.argv[2])
elif mode == 'clip':
    clip, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        mounts[f'/live{i}'] = free_udp_port()
    clients = ','.join(f'127.0.0.1:{p}' for p in mounts.values())
    feed = Gst.parse_launch(
        f'filesrc location="{clip}" ! qtdemux ! h264parse ! rtph264pay pt=96 config-interval=-1 mtu=1400 '
        f'! multiudpsink clients={clients} sync=true'
    )
    started = [False]

    def on_message(_bus, msg):
        t = msg.type
        if t == Gst.MessageType.SEGMENT_DONE:
            feed.seek(1.0, Gst.Format.TIME, Gst.SeekFlags.SEGMENT, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)
        elif t == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print(f'feed error: {err.message} {dbg}', file=sys.stderr, flush=True)
            loop.quit()
        elif t == Gst.MessageType.ASYNC_DONE and not started[0]:
            started[0] = True
            feed.seek(1.0, Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)
            feed.set_state(Gst.State.PLAYING)
        return True

    bus = feed.get_bus()
    bus.add_signal_watch()
    bus.connect('message', on_message)
    feed.set_state(Gst.State.PAUSED)
else:
    print(f'unknown mode {mode}', file=sys.stderr)
    sys.exit(2)

server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service('0')
# The udp source (bench/live/source.ts, x264 with 2 slices per frame) already sends SPS/PPS before every IDR;
# inserting them again (config-interval=-1) puts a copy before EACH IDR slice, which splits one access unit in
# two for every H.264 parser downstream (half an IDR decoded, the bottom of the picture broken for a GOP).
INTERVAL = '0' if mode == 'udp' else '-1'
for path, port in mounts.items():
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( udpsrc address=127.0.0.1 port={port} caps="{CAPS}" '
        f'! rtph264depay ! h264parse config-interval={INTERVAL} ! rtph264pay name=pay0 pt=96 config-interval={INTERVAL} )'
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(path, factory)
if server.attach(None) == 0:
    print('cannot listen', file=sys.stderr, flush=True)
    sys.exit(2)
print(f'READY {server.get_bound_port()}', flush=True)
loop.run()
sys.exit(1)
