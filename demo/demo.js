// The demo page: clerk-js through a same-origin proxyUrl (this server), with Clerk's prebuilt
// SignIn, SignUp and UserProfile components.
(function () {
  // proxyUrl decides where requests go; the key's host only has to look like a Clerk
  // development host, which makes clerk-js use a development browser (`__clerk_db_jwt`) — the
  // prebuilt components of a development instance build their links with it.
  const publishableKey = 'pk_test_' + btoa('frontdoor.clerk.accounts.dev$').replace(/=+$/, '');
  const script = document.createElement('script');
  script.src = '/npm/@clerk/clerk-js@6/dist/clerk.browser.js';
  script.setAttribute('data-clerk-publishable-key', publishableKey);
  script.setAttribute('data-clerk-proxy-url', window.location.origin);
  script.onload = start;
  document.body.appendChild(script);

  async function start() {
    const clerk = window.Clerk;
    // `/` signs in, `/demo/sign-up.html` signs up; each page holds one component with hash
    // routing, so the component's steps (#/factor-one, #/verify-email-address) stay on its page.
    await clerk.load({
      ui: { ClerkUI: window.__internal_ClerkUICtor },
      signInUrl: '/',
      signUpUrl: '/demo/sign-up.html',
      signInFallbackRedirectUrl: '/',
      signUpFallbackRedirectUrl: '/',
    });
    const page = document.body.dataset.page === 'sign-up' ? 'sign-up' : 'sign-in';
    const status = document.getElementById('status');
    const signOut = document.getElementById('sign-out');
    const node = document.getElementById('component');
    let mounted = null;
    // Each component is unmounted before the next is mounted in its place: emptying the node
    // under a mounted component breaks its React tree.
    const unmount = {
      'sign-in': () => clerk.unmountSignIn(node),
      'sign-up': () => clerk.unmountSignUp(node),
      profile: () => clerk.unmountUserProfile(node),
    };
    const render = () => {
      if (mounted === 'profile' && clerk.user) return;
      if (mounted) unmount[mounted]();
      if (clerk.user) {
        status.textContent = 'Signed in as ' + (clerk.user.primaryEmailAddress?.emailAddress ?? clerk.user.id);
        signOut.hidden = false;
        clerk.mountUserProfile(node, { routing: 'hash' });
        mounted = 'profile';
      } else {
        status.textContent = 'Signed out';
        signOut.hidden = true;
        if (page === 'sign-up') clerk.mountSignUp(node, { routing: 'hash' });
        else clerk.mountSignIn(node, { routing: 'hash' });
        mounted = page;
      }
    };
    signOut.onclick = () => clerk.signOut(() => { window.location.href = '/'; });
    let signedIn = !!clerk.user;
    clerk.addListener(({ user }) => {
      if (!!user !== signedIn) {
        signedIn = !!user;
        render();
      }
    });
    render();
    window.__frontdoorDemoReady = true;
  }
})();
