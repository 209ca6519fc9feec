// The identity providers social sign-in is tested against, both on loopback and started and
// stopped by the tests themselves:
//
// - an OpenID Connect provider: `oidc-provider`, a certified implementation, with test
//   accounts. Its login and consent pages are answered by `signInAs` (the account the next
//   authorization logs in as), through the library's own interaction API;
// - a plain OAuth 2.0 provider that behaves like GitHub: an authorize endpoint, a token
//   endpoint, and the `/user` and `/user/emails` APIs.
//
// `browse` plays the browser between them: it follows redirects with a cookie jar per host
// until it reaches a page that is neither provider's (the Frontend API's callback answer).
import { createServer } from 'node:http';
import { randomBytes, createHash, generateKeyPairSync } from 'node:crypto';
import { freePort } from './harness.mjs';

export const GOOGLE_CLIENT = { id: 'frontdoor-google-client', secret: 'google-client-secret' };
export const GITHUB_CLIENT = { id: 'frontdoor-github-client', secret: 'github-client-secret' };

// Test accounts at the OpenID Connect provider.
export const accounts = new Map();

export async function startOidcProvider(callbackUrl) {
  const { default: Provider } = await import('oidc-provider');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  let next = null;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: GOOGLE_CLIENT.id,
        client_secret: GOOGLE_CLIENT.secret,
        redirect_uris: [callbackUrl],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name', 'name'] },
    scopes: ['openid', 'email', 'profile'],
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    jwks: { keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }] },
    findAccount: (_ctx, id) => {
      const a = accounts.get(id);
      return a && { accountId: id, claims: () => ({ sub: id, ...a }) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  // Served over plain http on loopback: the provider must not insist on TLS.
  provider.proxy = true;
  const callback = provider.callback();
  const server = createServer(async (req, res) => {
    if (!req.url.startsWith('/interaction/')) return callback(req, res);
    try {
      // The login and consent pages: whoever `signInAs` named logs in and grants what the
      // client asked for.
      const details = await provider.interactionDetails(req, res);
      let result;
      if (details.prompt.name === 'login') {
        if (!next) throw new Error('no account to sign in as');
        result = { login: { accountId: next } };
      } else {
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        grant.addOIDCScope(details.params.scope);
        result = { consent: { grantId: await grant.save() } };
      }
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return {
    issuer,
    signInAs(id) {
      next = id;
    },
    stop: () => new Promise((ok) => server.close(() => ok())),
  };
}

// A GitHub-like OAuth 2.0 provider: the user at `user` consents at once.
export async function startGitHub(callbackUrl) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const codes = new Map();
  const tokens = new Map();
  const state = { user: null, deny: false };
  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, base);
    if (url.pathname === '/login/oauth/authorize') {
      const back = new URL(url.searchParams.get('redirect_uri'));
      if (back.href !== callbackUrl || url.searchParams.get('client_id') !== GITHUB_CLIENT.id) {
        return json(res, 400, { error: 'redirect_uri_mismatch' });
      }
      back.searchParams.set('state', url.searchParams.get('state'));
      if (state.deny) {
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = randomBytes(10).toString('hex');
        codes.set(code, { user: state.user, challenge: url.searchParams.get('code_challenge') });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      if (form.get('client_id') !== GITHUB_CLIENT.id || form.get('client_secret') !== GITHUB_CLIENT.secret) {
        return json(res, 200, { error: 'incorrect_client_credentials' });
      }
      const grant = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      const verifier = form.get('code_verifier') ?? '';
      const computed = createHash('sha256').update(verifier).digest('base64url');
      if (!grant || (grant.challenge && grant.challenge !== computed)) {
        return json(res, 200, { error: 'bad_verification_code' });
      }
      const token = randomBytes(10).toString('hex');
      tokens.set(token, grant.user);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!user) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/user') {
      return json(res, 200, { id: user.id, login: user.login, name: user.name, avatar_url: `${base}/avatar.png`, email: null });
    }
    if (url.pathname === '/user/emails') {
      return json(res, 200, user.emails);
    }
    json(res, 404, { message: 'Not Found' });
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return {
    base,
    state,
    stop: () => new Promise((ok) => server.close(() => ok())),
  };
}

// Follows redirects from `url` like a browser (cookies per host), until the answer is not a
// redirect or the next location is not an http(s) URL (a native app's). Returns the last
// location reached and the answer there.
export async function browse(url, { stopAt } = {}) {
  const jars = new Map();
  let current = url;
  for (let hops = 0; hops < 20; hops++) {
    const target = new URL(current);
    if (!/^https?:$/.test(target.protocol) || (stopAt && current.startsWith(stopAt))) {
      return { location: current };
    }
    const jar = jars.get(target.host) ?? new Map();
    jars.set(target.host, jar);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(current, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const c of res.headers.getSetCookie?.() ?? []) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    const next = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !next) {
      return { location: current, status: res.status, body: await res.text() };
    }
    current = new URL(next, current).href;
  }
  throw new Error(`too many redirects from ${url}`);
}

// The settings tables that connect Frontdoor to these providers, put before `[actions]`.
export function socialSettings({ oidc, github }) {
  const lines = [];
  if (oidc) {
    // Pointed elsewhere, a built-in provider links by verified email only when told to.
    lines.push('[social.google]', `issuer = "${oidc.issuer}"`, `client_id = "${GOOGLE_CLIENT.id}"`, `client_secret = "${GOOGLE_CLIENT.secret}"`, 'link_by_verified_email = true', '');
  }
  if (github) {
    lines.push(
      '[social.github]',
      `authorize_url = "${github.base}/login/oauth/authorize"`,
      `token_url = "${github.base}/login/oauth/access_token"`,
      `api_url = "${github.base}"`,
      `client_id = "${GITHUB_CLIENT.id}"`,
      // The secret from the environment, as a deployment passes it.
      'client_secret_env = "FRONTDOOR_TEST_GITHUB_SECRET"',
      'link_by_verified_email = true',
      '',
    );
  }
  return ['[actions]', [...lines, '[actions]'].join('\n')];
}
