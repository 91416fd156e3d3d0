// Signing in: a dev token by name (dev mode), or the identity provider with authorization code + PKCE.
import { auth, post, ApiError } from './api.js';
import { t } from './i18n.js';

const PENDING = 'rally.oidc.pending';

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function claims(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch { return {}; }
}

export async function signInDev(name) {
  const r = await post('/v1/auth/dev-token', { name, admin: false }, { cache: false });
  const c = claims(r.token);
  await auth.clear();
  auth.set({ token: r.token, profileId: r.profileId, name, exp: c.exp || 0, via: 'dev' });
}

async function discover(issuer) {
  const r = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!r.ok) throw new ApiError(r.status, 'oidc_discovery', t('signin.providerDown'));
  return r.json();
}

const redirectUri = () => `${location.origin}/`;

// Off to the provider; the app comes back at `/?code=...&state=...` and `finishSignIn` takes over.
export async function startSignIn(oidc) {
  const meta = await discover(oidc.issuer);
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, back: location.hash }));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: oidc.clientId, redirect_uri: redirectUri(), scope: oidc.scope,
    code_challenge: challenge, code_challenge_method: 'S256', state, nonce,
  }).toString();
  location.assign(url.toString());
}

async function tokenRequest(oidc, params) {
  const meta = await discover(oidc.issuer);
  const r = await fetch(meta.token_endpoint, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: oidc.clientId, ...params }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body.error || 'oidc_token', body.error_description || t('signin.refused'));
  return body;
}

function store(oidc, tokens) {
  const apiToken = oidc.apiToken === 'id_token' ? tokens.id_token : (tokens.access_token || tokens.id_token);
  const c = claims(apiToken);
  const id = claims(tokens.id_token || apiToken);
  auth.set({
    token: apiToken, profileId: c.sub || id.sub, name: id.name || id.preferred_username || c.name || '',
    exp: c.exp || 0, refresh: tokens.refresh_token || null, via: 'oidc',
  });
  return id;
}

// Back from the provider: check the state, trade the code for tokens. Returns the route to show.
export async function finishSignIn(oidc) {
  const q = new URLSearchParams(location.search);
  if (!q.has('code') && !q.has('error')) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', '/' + (pending?.back || ''));
  if (q.has('error')) throw new ApiError(401, 'oidc_refused', q.get('error_description') || t('signin.refused'));
  if (!pending || pending.state !== q.get('state')) throw new ApiError(401, 'oidc_state', t('signin.refused'));
  const tokens = await tokenRequest(oidc, {
    grant_type: 'authorization_code', code: q.get('code'), redirect_uri: redirectUri(), code_verifier: pending.verifier,
  });
  await auth.clear();
  const id = store(oidc, tokens);
  if (tokens.id_token && id.nonce !== pending.nonce) {
    await auth.clear();
    throw new ApiError(401, 'oidc_nonce', t('signin.refused'));
  }
  return pending.back || '#/';
}

// A provider's token nearing its end is renewed with the refresh token, when there is one.
export async function refreshIfNeeded(oidc) {
  const a = auth.get();
  if (!a || a.via !== 'oidc' || !a.refresh || !oidc) return;
  if (a.exp && a.exp * 1000 - Date.now() > 60_000) return;
  try {
    store(oidc, { refresh_token: a.refresh, ...(await tokenRequest(oidc, { grant_type: 'refresh_token', refresh_token: a.refresh })) });
  } catch { /* the next API call answers 401 and the member signs in again */ }
}

export function expired() {
  const a = auth.get();
  return !a || (a.exp && a.exp * 1000 < Date.now() && !a.refresh);
}

