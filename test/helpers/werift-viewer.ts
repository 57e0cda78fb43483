/**
 * A WHEP viewer in its own process, for tests that kill it (SIGKILL: no DELETE, no DTLS close, nothing more on
 * the wire). Usage: node --import tsx test/helpers/werift-viewer.ts http://127.0.0.1:PORT/whep/cam0
 * Prints "SESSION <location>" once answered and "MEDIA <n>" once n RTP packets arrived; then runs until killed.
 * Loopback only: a 127.0.0.1 host candidate and no STUN server (src/core/ice.ts).
 */
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { icePeerConfig, pinStunServer } from '../../src/core/ice.ts';

const url = process.argv[2];
if (!url) throw new Error('usage: werift-viewer.ts WHEP_URL');
const ice = { iceServers: [], hostAddresses: ['127.0.0.1'] };
const pc = new RTCPeerConnection({
  codecs: {
    video: [
      new RTCRtpCodecParameters({
        mimeType: 'video/H264',
        clockRate: 90000,
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      }),
    ],
  },
  headerExtensions: { video: [] },
  ...icePeerConfig(ice),
});
const t = pc.addTransceiver('video', { direction: 'recvonly' });
let packets = 0;
t.onTrack.subscribe((track) => {
  track.onReceiveRtp.subscribe(() => {
    packets++;
    if (packets === 10) process.stdout.write(`MEDIA ${packets}\n`);
  });
});
const offer = await pc.createOffer();
pinStunServer(pc, ice);
await pc.setLocalDescription(offer);
const sdp = pc.localDescription?.sdp ?? '';
const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp, signal: AbortSignal.timeout(10_000) });
if (res.status !== 201) {
  process.stderr.write(`WHEP ${res.status}: ${await res.text()}\n`);
  process.exit(2);
}
process.stdout.write(`SESSION ${res.headers.get('location') ?? ''}\n`);
await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
setInterval(() => undefined, 60_000); // stay alive until killed
