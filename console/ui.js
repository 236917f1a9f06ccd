// ui.js - small DOM helpers. Everything is built with createElement and textContent (never
// innerHTML), so text from the API cannot become markup.

// h('tag.class#id', {attrs, on: {event: fn}}, ...children). null/false children are skipped.
export function h(sel, attrs, ...children) {
    const m = sel.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/);
    const el = document.createElement(m ? m[1] : sel);
    if (m && m[2])
        for (const part of m[2].match(/[.#][\w-]+/g)) {
            if (part[0] === '.') el.classList.add(part.slice(1));
            else el.id = part.slice(1);
        }
    if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
        children.unshift(attrs);
        attrs = null;
    }
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
        else if (k === 'text') el.textContent = v;
        else if (k in el && typeof v !== 'string') el[k] = v;
        else el.setAttribute(k, v === true ? '' : v);
    }
    add(el, children);
    return el;
}

// el.append that also takes (nested) arrays and skips null/false.
export function append(el, ...children) {
    add(el, children);
    return el;
}

function add(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) add(el, c);
        else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

let seq = 0;
export function uid(prefix) {
    return prefix + '-' + ++seq;
}

// A labelled form field: label + control (+ hint). Returns {row, input}.
export function field(label, control, hint) {
    control.id = control.id || uid('f');
    const hintEl = hint ? h('p.hint', { id: uid('hint') }, hint) : null;
    if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
    return h('div.field', h('label', { for: control.id }, label), control, hintEl);
}

export function button(text, onClick, opts = {}) {
    return h('button', { type: opts.type || 'button', class: opts.primary ? 'primary' : opts.danger ? 'danger' : null, on: onClick ? { click: onClick } : null, disabled: opts.disabled || null, 'aria-label': opts.label || null }, text);
}

// Epoch seconds -> "2026-11-23 16:40:12 UTC".
export function when(s) {
    if (s === undefined || s === null) return '—';
    return new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

// Status badge (FleetStatus, DomainStatus, DeviceStatus).
export function badge(status) {
    const cls = /ACTIVE/.test(status) && !/INACTIVE/.test(status) ? 'ok' : /FAILED|INACTIVE|DELET|SIGNED_OUT|DISASSOC/.test(status) ? 'bad' : 'busy';
    return h('span', { class: 'badge ' + cls }, status || '—');
}

// Offers text as a file download (a blob: URL; nothing leaves the browser).
export function download(name, text, type = 'application/octet-stream') {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = h('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Reads a picked file as text; rejects files above max bytes.
export async function readFile(input, max = 256 * 1024) {
    const f = input.files && input.files[0];
    if (!f) return null;
    if (f.size > max) throw new Error(`${f.name} is ${f.size} bytes: at most ${max} are accepted here`);
    return f.text();
}

// A modal confirmation (<dialog>: focus trapped, Escape cancels). Resolves true or false.
export function confirmDialog(title, text, action = 'Delete') {
    return new Promise((resolve) => {
        const dlg = h('dialog.confirm', { 'aria-labelledby': 'dlg-title' });
        const ok = button(action, () => dlg.close('ok'), { danger: true });
        const cancel = button('Cancel', () => dlg.close('cancel'));
        dlg.append(h('h2#dlg-title', title), h('p', text), h('div.actions', cancel, ok));
        dlg.addEventListener('close', () => {
            resolve(dlg.returnValue === 'ok');
            dlg.remove();
        });
        document.body.append(dlg);
        dlg.showModal();
        cancel.focus();
    });
}

// The status line (aria-live): successes and errors of actions.
export function notify(msg, isError = false) {
    const el = document.getElementById('status');
    el.textContent = '';
    el.className = 'status ' + (isError ? 'error' : 'ok');
    el.dataset.t = String(Date.now());
    el.setAttribute('role', isError ? 'alert' : 'status');
    el.append(h('span', String(msg)), h('button.close', { type: 'button', 'aria-label': 'Dismiss message', on: { click: () => { el.textContent = ''; el.className = 'status'; } } }, '×'));
}

export function errorText(e) {
    return e && e.type ? `${e.type}: ${e.message}` : String(e && e.message ? e.message : e);
}

// A table with a caption and header row. rows: arrays of cells (Node or text). On a phone each
// row shows as a card, every cell under its column's name (data-label, see style.css).
export function table(caption, headers, rows, empty = 'Nothing here yet.') {
    if (!rows.length) return h('p.empty', empty);
    return h('div.tablewrap', h('table', h('caption', caption), h('thead', h('tr', headers.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', rows.map((r) => h('tr', r.map((c, i) => h('td', { 'data-label': headers[i] }, c)))))));
}
