// sigv4.js - AWS Signature Version 4 in the browser, with WebCrypto (HMAC-SHA256, SHA-256).
//
// The secret access key is imported once, at sign-in, as a non-extractable HMAC key over
// "AWS4" + secret (the first key of the SigV4 derivation) and the string is dropped: from then
// on no script, ours or injected, can read it back, and it is never sent anywhere. It lives in
// memory only (this tab); reloading the page asks for it again.
const enc = new TextEncoder();

function hex(buf) {
    return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256Hex(data) {
    const bytes = typeof data === 'string' ? enc.encode(data) : data;
    return hex(await crypto.subtle.digest('SHA-256', bytes));
}

async function hmacKey(raw) {
    return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

async function hmac(key, msg) {
    return crypto.subtle.sign('HMAC', key, enc.encode(msg));
}

// RFC 3986 encoding as AWS does it: unreserved characters kept, the rest %XX (uppercase).
export function awsEncode(s, keepSlash) {
    let out = '';
    for (const b of enc.encode(s)) {
        const c = String.fromCharCode(b);
        if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
        else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
    return out;
}

function decode(s) {
    try {
        return decodeURIComponent(s);
    } catch {
        return s;
    }
}

// The canonical URI of non-S3 services: dot and empty segments removed, then encoded again
// (so a path sent as /tags/arn%3Aaws is signed as /tags/arn%253Aaws).
function canonicalPath(path) {
    const segs = [];
    for (const s of path.split('/')) {
        if (s === '' || s === '.') continue;
        if (s === '..') segs.pop();
        else segs.push(s);
    }
    let p = '/' + segs.join('/');
    if (path.endsWith('/') && segs.length) p += '/';
    return awsEncode(p, true);
}

function canonicalQuery(query) {
    if (!query) return '';
    return query
        .split('&')
        .filter((kv) => kv)
        .map((kv) => {
            const i = kv.indexOf('=');
            const k = i < 0 ? kv : kv.slice(0, i);
            const v = i < 0 ? '' : kv.slice(i + 1);
            return [awsEncode(decode(k)), awsEncode(decode(v))];
        })
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1]))
        .map(([k, v]) => k + '=' + v)
        .join('&');
}

// Returns a signer for one principal. The secret is consumed here (see above).
export async function createSigner(accessKeyId, secret, region) {
    if (!globalThis.crypto || !crypto.subtle)
        throw new Error(
            'This page is not a secure context, so the browser offers no WebCrypto to sign ' +
                'requests: open the console over HTTPS (worklink-control --tls-cert/--tls-key) or ' +
                'on localhost.'
        );
    const root = await hmacKey(enc.encode('AWS4' + secret));
    const keys = new Map(); // "date/service" -> signing key (CryptoKey)

    async function signingKey(date, service) {
        const id = date + '/' + service;
        if (!keys.has(id)) {
            const kDate = await hmac(root, date);
            const kRegion = await hmac(await hmacKey(kDate), region);
            const kService = await hmac(await hmacKey(kRegion), service);
            const kSigning = await hmac(await hmacKey(kService), 'aws4_request');
            keys.clear();
            keys.set(id, await hmacKey(kSigning));
        }
        return keys.get(id);
    }

    // req: {method, path (percent-encoded, as sent), query (as sent, without '?'), headers
    // (object, names in any case), body (string), service, host}. Returns the headers to add:
    // X-Amz-Date and Authorization.
    async function sign(req, now = new Date()) {
        const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
        const date = amzDate.slice(0, 8);
        const hdrs = { host: req.host, 'x-amz-date': amzDate };
        for (const [k, v] of Object.entries(req.headers || {})) hdrs[k.toLowerCase()] = v;
        const names = Object.keys(hdrs).sort();
        const canonHeaders = names
            .map((n) => n + ':' + String(hdrs[n]).trim().replace(/\s+/g, ' ') + '\n')
            .join('');
        const signedHeaders = names.join(';');
        const payloadHash = await sha256Hex(req.body || '');
        const canonical = [
            req.method,
            canonicalPath(req.path),
            canonicalQuery(req.query),
            canonHeaders,
            signedHeaders,
            payloadHash,
        ].join('\n');
        const scope = `${date}/${region}/${req.service}/aws4_request`;
        const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, await sha256Hex(canonical)].join('\n');
        const sig = hex(await hmac(await signingKey(date, req.service), toSign));
        return {
            'X-Amz-Date': amzDate,
            Authorization:
                `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, ` +
                `SignedHeaders=${signedHeaders}, Signature=${sig}`,
        };
    }

    return { accessKeyId, region, sign };
}
