#!/usr/bin/python3
"""A loopback RTSP server for tests: serves an H.264 (or H.265) MP4 clip in a loop, in real time, at rtsp://127.0.0.1:PORT/live.

Usage: /usr/bin/python3 rtsp_server.py CLIP.mp4 [PORT [AUTH [CODEC]]]   (PORT 0 or absent: a free port; AUTH
"digest:USER:PASS" or "basic:USER:PASS" requires those credentials, as cameras do, "-" none; CODEC h264 (default)
or h265, the clip's codec)
Prints "READY <port>" on stdout once it listens; runs until killed.

Why two pipelines: a "camera" pipeline plays the file in real time and loops it with segment seeks (running time keeps
growing across loops, so RTP timestamps keep increasing as a camera's would), sending RTP to a loopback UDP port. The
RTSP media (shared by all clients) only depacketizes and repacketizes that feed with SPS/PPS before every key frame, so
a client can join at any time. Seeking inside the RTSP server's own media would fight rtsp-media's state handling.
MP4 (qtdemux), not MPEG-TS: tsdemux refuses the segment seek from a filesrc here (GStreamer 1.22), so a .ts would not loop.
"""
import socket
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
gi.require_version('GstRtsp', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)
clip = sys.argv[1]
want_port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
want_auth = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != '-' else ''
codec = sys.argv[4] if len(sys.argv) > 4 else 'h264'
enc = {'h264': 'H264', 'h265': 'H265'}[codec]

# A free loopback UDP port for the internal feed (bind, read, release: the race is harmless on loopback in tests).
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
udp_port = s.getsockname()[1]
s.close()

feed = Gst.parse_launch(
    f'filesrc location="{clip}" ! qtdemux ! {codec}parse ! rtp{codec}pay pt=96 config-interval=-1 mtu=1400 '
    f'! udpsink host=127.0.0.1 port={udp_port} sync=true'
)


def on_message(_bus, msg):
    t = msg.type
    if t == Gst.MessageType.SEGMENT_DONE:
        # Non-flushing segment seek: playback continues seamlessly and running time keeps growing.
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


started = [False]
loop = GLib.MainLoop()
bus = feed.get_bus()
bus.add_signal_watch()
bus.connect('message', on_message)
feed.set_state(Gst.State.PAUSED)

server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(str(want_port))
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( udpsrc address=127.0.0.1 port={udp_port} '
    f'caps="application/x-rtp,media=video,clock-rate=90000,encoding-name={enc},payload=96" '
    f'! rtp{codec}depay ! {codec}parse config-interval=-1 ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 )'
)
factory.set_shared(True)
if want_auth:
    method, user, password = want_auth.split(':', 2)
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string('media.factory.role', 'user')
    if method == 'digest':
        auth.add_digest(user, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    server.set_auth(auth)
    role, _ = Gst.Structure.from_string('user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true')
    factory.add_role_from_structure(role)
server.get_mount_points().add_factory('/live', factory)
if server.attach(None) == 0:
    print(f'cannot listen on 127.0.0.1:{want_port}', file=sys.stderr, flush=True)
    sys.exit(2)
print(f'READY {server.get_bound_port()}', flush=True)
loop.run()
sys.exit(1)
