// The token this page uses when the server asks for one (security.viewerTokens / apiTokens in docs/config.md):
// given once as ?token=… in the page URL (then kept for this tab only and removed from the address bar, so it is
// not bookmarked or shared), or typed in when the server answers 401.

const KEY = 'facecast.token';

/** The page's token, or undefined. */
export function pageToken() {
  const url = new URL(location.href);
  const t = url.searchParams.get('token');
  if (t) {
    sessionStorage.setItem(KEY, t);
    url.searchParams.delete('token');
    history.replaceState(null, '', url);
  }
  return t || sessionStorage.getItem(KEY) || undefined;
}

/** Asks for a token (the server said 401) and reloads with it; false when the user gave none. */
export function askToken() {
  const t = prompt('This facecast server needs a token (viewer or API token):');
  if (!t) return false;
  sessionStorage.setItem(KEY, t.trim());
  location.reload();
  return true;
}

/** Headers that carry `token`. @param {string | undefined} token */
export function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}
