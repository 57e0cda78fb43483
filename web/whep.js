// Minimal WHEP player (non-trickle): offer with every candidate → POST → answer. No ICE servers by default:
// the server offers host candidates only, so none are needed on a LAN.

/** Resolves when ICE gathering is complete, or after `ms` (the offer then carries what was gathered). Shared with
 *  web/whip.js: both send non-trickle offers. */
export function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * Plays `url` (e.g. "/whep/cam1") in `videoEl`. Returns { stop, pc, location }; stop() DELETEs the session and
 * closes the peer (idempotent).
 */
export async function playWhep(videoEl, url, { iceServers = [], gatherTimeoutMs = 3000, token } = {}) {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const pc = new RTCPeerConnection({ iceServers });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addEventListener('track', (ev) => {
    videoEl.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
    videoEl.play().catch(() => {}); // autoplay may be refused without a gesture; muted video usually plays
  });
  let location;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    pc.close();
    if (location) await fetch(location, { method: 'DELETE', headers: auth }).catch(() => {});
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, gatherTimeoutMs);
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...auth }, body: pc.localDescription.sdp });
    if (res.status !== 201) {
      const text = await res.text();
      throw new Error(`WHEP ${url}: ${res.status} ${text}`);
    }
    const loc = res.headers.get('Location');
    location = loc ? new URL(loc, new URL(url, location0())).toString() : undefined;
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop, pc, get location() { return location; } };
}

function location0() {
  return globalThis.location?.href ?? 'http://localhost/';
}
