// app.js - the console shell: sign-in, navigation (hash routes), page lifecycle.
import { signIn } from './api.js';
import { h, field, button, notify, errorText } from './ui.js';
import { routes } from './pages.js';

const session = { client: null, who: null, readOnly: true };
let timers = [];
let generation = 0;

function clearTimers() {
    for (const t of timers) clearInterval(t);
    timers = [];
}

function signOut() {
    session.client = null; // the signing key goes with it: nothing is stored anywhere
    session.who = null;
    clearTimers();
    location.hash = '#/';
    render();
}

async function showSignIn(main) {
    document.getElementById('who').textContent = '';
    document.getElementById('topnav').textContent = '';
    let region = 'us-east-1';
    try {
        const s = await (await fetch('/console/settings.json', { cache: 'no-store' })).json();
        region = s.Region || region;
    } catch {
        /* keep the default */
    }
    const ak = h('input', { name: 'access-key', autocomplete: 'username', required: true, spellcheck: 'false', autocapitalize: 'off' });
    const sk = h('input', { name: 'secret', type: 'password', autocomplete: 'current-password', required: true });
    const rg = h('input', { name: 'region', value: region, required: true, spellcheck: 'false', autocapitalize: 'off' });
    const err = h('p.error', { role: 'alert' });
    const submit = button('Sign in', null, { type: 'submit', primary: true });
    const form = h('form.card.signin', { 'aria-labelledby': 'signin-title' },
        h('h1#signin-title', 'Sign in to the WorkLink console'),
        h('p', 'Use the access key of a principal from the credentials file of worklink-control. Requests are signed in this tab; the secret is never sent and is forgotten when you sign out or reload.'),
        field('Access key ID', ak), field('Secret access key', sk), field('Region', rg), err, submit);
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        err.textContent = '';
        submit.disabled = true;
        try {
            const secret = sk.value;
            sk.value = '';
            const { client, who } = await signIn(ak.value.trim(), secret, rg.value.trim());
            session.client = client;
            session.who = who;
            session.readOnly = who.Policy !== 'full';
            if (!location.hash || location.hash === '#/') location.hash = '#/fleets';
            render();
        } catch (e) {
            err.textContent = 'Sign-in failed: ' + errorText(e);
            submit.disabled = false;
            sk.focus();
        }
    });
    main.append(form);
    ak.focus();
}

function shell() {
    const nav = document.getElementById('topnav');
    nav.textContent = '';
    const here = location.hash.split('/')[1] || 'fleets';
    nav.append(h('ul', h('li', h('a', { href: '#/fleets', 'aria-current': here === 'fleets' ? 'page' : null }, 'Fleets')),
        h('li', h('a', { href: '#/certificates', 'aria-current': here === 'certificates' ? 'page' : null }, 'Certificates'))));
    const who = document.getElementById('who');
    who.textContent = '';
    who.append(h('span.principal', { title: session.who.Arn }, session.who.Principal, session.readOnly ? h('span.badge.busy', 'read-only') : null),
        button('Sign out', signOut));
}

// Renders the page of the current hash route.
async function render() {
    const gen = ++generation;
    clearTimers();
    const main = document.getElementById('main');
    main.textContent = '';
    if (!session.client) return showSignIn(main);
    shell();
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent).filter((x) => x !== '');
    const route = routes.find((r) => r.match(parts)) || routes[0];
    const ctx = {
        session,
        api: session.client,
        can: !session.readOnly,
        parts,
        // writable(el): el for full-access principals, nothing for read-only ones
        w: (el) => (session.readOnly ? null : el),
        // runs fn every ms while this page is shown (live states)
        every(ms, fn) {
            const t = setInterval(() => {
                if (gen === generation && !document.hidden) fn();
            }, ms);
            timers.push(t);
        },
        live: () => gen === generation,
        go(hash) {
            if (location.hash === hash) render();
            else location.hash = hash;
        },
        refresh: () => render(),
        // runs an action, reports its success or the API's error
        async act(what, fn) {
            try {
                const r = await fn();
                notify(what);
                return r ?? true;
            } catch (e) {
                notify(errorText(e), true);
                return null;
            }
        },
    };
    try {
        await route.render(main, ctx);
    } catch (e) {
        if (gen !== generation) return;
        main.append(h('p.error', { role: 'alert' }, errorText(e)));
    }
    if (gen === generation) {
        const h1 = main.querySelector('h1');
        if (h1) {
            h1.tabIndex = -1;
            h1.focus({ preventScroll: true });
            document.title = h1.textContent + ' · WorkLink console';
        }
    }
}

window.addEventListener('hashchange', () => {
    // a message older than the navigation belongs to the page left behind
    const st = document.getElementById('status');
    if (Date.now() - Number(st.dataset.t || 0) > 1500) {
        st.textContent = '';
        st.className = 'status';
    }
    render();
});
document.getElementById('skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    document.getElementById('main').focus();
});
render();
