// Minimal WHIP publisher (non-trickle): a sendonly peer with the camera's video track, the offer carrying every
// candidate → POST → answer. H.264 is preferred (the server can then pass it through to viewers without
// re-encoding); VP8 stays in the offer as the fallback. Audio is not sent: facecast analyses faces only.

import { gathered } from './whep.js';

/**
 * Publishes the video track of `media` to `url` (e.g. "/whip/cam1"). Returns { stop, pc }; stop() DELETEs the
 * session and closes the peer (idempotent).
 */
export async function publishWhip(media, url, { token, iceServers = [], gatherTimeoutMs = 3000 } = {}) {
  const track = media.getVideoTracks()[0];
  if (!track) throw new Error('no video track to publish');
  const pc = new RTCPeerConnection({ iceServers });
  const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
  const caps = RTCRtpSender.getCapabilities?.('video');
  if (caps && transceiver.setCodecPreferences) {
    const rank = (c) => (c.mimeType === 'video/H264' ? 0 : c.mimeType === 'video/VP8' ? 1 : 2);
    transceiver.setCodecPreferences([...caps.codecs].filter((c) => rank(c) < 2 || /rtx|red|ulpfec/i.test(c.mimeType)).sort((a, b) => rank(a) - rank(b)));
  }
  const headers = { 'Content-Type': 'application/sdp' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let location;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    pc.close();
    if (location) await fetch(location, { method: 'DELETE', headers: token ? { Authorization: `Bearer ${token}` } : {} }).catch(() => {});
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, gatherTimeoutMs);
    const res = await fetch(url, { method: 'POST', headers, body: pc.localDescription.sdp });
    if (res.status !== 201) throw new Error(`WHIP ${url}: ${res.status} ${await res.text()}`);
    const loc = res.headers.get('Location');
    location = loc ? new URL(loc, new URL(url, globalThis.location?.href ?? 'http://localhost/')).toString() : undefined;
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop, pc, get location() { return location; } };
}
