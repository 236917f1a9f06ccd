// api.js - the admin API client: the same REST-JSON (worklink) and JSON 1.1 (acm) calls the AWS
// CLI makes, signed in the browser (sigv4.js), on this origin.
import { createSigner } from './sigv4.js';

// An API refusal: the AWS error name (x-amzn-ErrorType / __type) and its message.
export class ApiError extends Error {
    constructor(type, message, status) {
        super(message);
        this.type = type;
        this.status = status;
    }
    toString() {
        return this.type + ': ' + this.message;
    }
}

// Paths of the worklink operations (botocore model, 2018-09-25). Note UpdateFleetMetadata.
const WORKLINK_OPS = [
    'AssociateDomain', 'AssociateWebsiteAuthorizationProvider',
    'AssociateWebsiteCertificateAuthority', 'CreateFleet', 'DeleteFleet',
    'DescribeAuditStreamConfiguration', 'DescribeCompanyNetworkConfiguration', 'DescribeDevice',
    'DescribeDevicePolicyConfiguration', 'DescribeDomain', 'DescribeFleetMetadata',
    'DescribeIdentityProviderConfiguration', 'DescribeWebsiteCertificateAuthority',
    'DisassociateDomain', 'DisassociateWebsiteAuthorizationProvider',
    'DisassociateWebsiteCertificateAuthority', 'ListDevices', 'ListDomains', 'ListFleets',
    'ListWebsiteAuthorizationProviders', 'ListWebsiteCertificateAuthorities',
    'RestoreDomainAccess', 'RevokeDomainAccess', 'SignOutUser', 'UpdateAuditStreamConfiguration',
    'UpdateCompanyNetworkConfiguration', 'UpdateDevicePolicyConfiguration',
    'UpdateDomainMetadata', 'UpdateFleetMetadata', 'UpdateIdentityProviderConfiguration',
];

function opPath(op) {
    if (!WORKLINK_OPS.includes(op)) throw new Error('unknown operation ' + op);
    return op === 'UpdateFleetMetadata' ? '/UpdateFleetMetadata' : '/' + op[0].toLowerCase() + op.slice(1);
}

async function send(signer, { method, path, query, headers, body, service }) {
    const signed = await signer.sign({ method, path, query, headers, body, service, host: location.host });
    let res;
    try {
        res = await fetch(path + (query ? '?' + query : ''), {
            method,
            headers: { ...headers, ...signed },
            body: method === 'GET' ? undefined : body,
            credentials: 'omit',
            cache: 'no-store',
        });
    } catch (e) {
        throw new ApiError('NetworkError', 'cannot reach the admin API: ' + e.message, 0);
    }
    const text = await res.text();
    let data = {};
    if (text) {
        try {
            data = JSON.parse(text);
        } catch {
            data = { message: text.slice(0, 300) };
        }
    }
    if (!res.ok) {
        let type = res.headers.get('x-amzn-ErrorType') || data.__type || 'HTTP' + res.status;
        type = type.split(':')[0].split('#').pop();
        throw new ApiError(type, data.message || data.Message || res.statusText, res.status);
    }
    return data;
}

// Signs in: imports the key, then asks who the principal is (GET /console/whoami, signed like
// any call: a wrong key or secret gets the API's own error). Returns {client, who}.
export async function signIn(accessKeyId, secret, region) {
    const signer = await createSigner(accessKeyId, secret, region);
    const who = await send(signer, { method: 'GET', path: '/console/whoami', query: '', headers: {}, body: '', service: 'worklink' });
    return { client: new Client(signer), who };
}

export class Client {
    constructor(signer) {
        this.signer = signer;
    }

    // A worklink operation with its input object (model member names).
    call(op, input = {}) {
        const body = JSON.stringify(input);
        return send(this.signer, {
            method: 'POST', path: opPath(op), query: '', body, service: 'worklink',
            headers: { 'Content-Type': 'application/json' },
        });
    }

    // An ACM operation (ImportCertificate, ListCertificates, DescribeCertificate, ...).
    acm(op, input = {}) {
        const body = JSON.stringify(input);
        return send(this.signer, {
            method: 'POST', path: '/', query: '', body, service: 'acm',
            headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'CertificateManager.' + op },
        });
    }

    tags(arn) {
        return send(this.signer, {
            method: 'GET', path: '/tags/' + encodeURIComponent(arn), query: '', body: '', service: 'worklink', headers: {},
        });
    }

    // Every item of a paginated list (for small derived views such as Users).
    async listAll(op, input, key, limit = 5000) {
        const items = [];
        let token;
        do {
            const out = await this.call(op, { ...input, MaxResults: 100, ...(token ? { NextToken: token } : {}) });
            items.push(...(out[key] || []));
            token = out.NextToken;
        } while (token && items.length < limit);
        return items;
    }
}

// base64 of a string's UTF-8 bytes (ACM blobs).
export function b64(text) {
    const bytes = new TextEncoder().encode(text);
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
}
