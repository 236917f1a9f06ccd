// pages.js - the console's pages, one per page of the admin guide. Each render(main, ctx) builds
// its page from API answers; ctx (app.js) gives the client, the principal's rights (ctx.w hides
// mutating controls from read-only principals), live polling and action reporting.
import { b64 } from './api.js';
import { h, append, field, button, when, badge, download, readFile, confirmDialog, notify, errorText, table, uid } from './ui.js';

const fleetArn = (ctx, name) => `arn:aws:worklink::${ctx.session.who.AccountId}:fleet/${name}`;
const enc = encodeURIComponent;

// ---- a paginated, selectable list (NextToken pages, page size, live refresh) ----------------
function pagedList(ctx, opts) {
    const st = { tokens: [undefined], page: 0, items: [], next: null, selected: null, size: opts.size || 10 };
    const body = h('div.listbody');
    const pageInfo = h('span.pageinfo');
    const prev = button('Previous page', () => { if (st.page > 0) { st.page--; load(); } });
    const next = button('Next page', () => { if (st.next) { st.tokens[st.page + 1] = st.next; st.page++; load(); } });
    const size = h('select', { name: 'page-size' }, [10, 25, 50, 100].map((n) => h('option', { value: String(n) }, String(n))));
    size.value = String(st.size);
    size.addEventListener('change', () => { st.size = Number(size.value); st.tokens = [undefined]; st.page = 0; load(); });
    const pager = h('div.pager', prev, pageInfo, next, field(opts.noun + ' per page', size));
    async function load() {
        let r;
        try {
            r = await opts.load(st.tokens[st.page], st.size);
        } catch (e) {
            if (!ctx.live()) return;
            body.textContent = '';
            body.append(h('p.error', { role: 'alert' }, errorText(e)));
            return;
        }
        if (!ctx.live()) return;
        st.items = r.items;
        st.next = r.next || null;
        draw();
    }
    function draw() {
        const name = uid('sel');
        const rows = st.items.map((it) => {
            const key = opts.key(it);
            const radio = h('input', { type: 'radio', name, value: key, checked: key === st.selected, 'aria-label': 'Select ' + key, on: { change: () => { st.selected = key; } } });
            return [radio, ...opts.cells(it)];
        });
        body.textContent = '';
        body.append(table(opts.caption, ['Select', ...opts.columns], rows, opts.empty));
        prev.disabled = st.page === 0;
        next.disabled = !st.next;
        pageInfo.textContent = `Page ${st.page + 1}`;
    }
    return {
        el: h('div.list', body, pager),
        load,
        selected() {
            const it = st.items.find((i) => opts.key(i) === st.selected);
            if (!it) notify(`Select a ${opts.noun.toLowerCase().replace(/s$/, '')} first.`, true);
            return it;
        },
    };
}

// Runs fn on the selected item of list, if any.
const onSelected = (list, fn) => () => { const it = list.selected(); if (it) fn(it); };

const dl = (pairs) => h('dl.props', pairs.filter(Boolean).map(([k, v]) => [h('dt', k), h('dd', v === undefined || v === null || v === '' ? '—' : v)]));

// ---- Fleets ----------------------------------------------------------------------------------
async function fleetsPage(main, ctx) {
    const list = pagedList(ctx, {
        noun: 'Fleets', caption: 'Fleets of this account', key: (f) => f.FleetName,
        columns: ['Fleet name', 'Display name', 'Company code', 'Status', 'Created'],
        cells: (f) => [h('a', { href: '#/fleets/' + enc(f.FleetName) }, f.FleetName), f.DisplayName || '—', h('code', f.CompanyCode || '—'), badge(f.FleetStatus), when(f.CreatedTime)],
        empty: 'No fleets yet: choose Create fleet to set one up.',
        load: async (token, size) => {
            const out = await ctx.api.call('ListFleets', { MaxResults: size, ...(token ? { NextToken: token } : {}) });
            return { items: out.FleetSummaryList || [], next: out.NextToken };
        },
    });
    append(main, h('h1', 'Fleets'),
        h('p.lead', 'A fleet is the configuration that makes your internal websites reachable from your users\u2019 phones.'),
        h('div.toolbar',
            ctx.w(button('Create fleet', () => ctx.go('#/create-fleet'), { primary: true })),
            button('View details', onSelected(list, (f) => ctx.go('#/fleets/' + enc(f.FleetName)))),
            ctx.w(button('Delete', onSelected(list, (f) => deleteFleet(ctx, f.FleetName, list.load)), { danger: true }))),
        list.el);
    await list.load();
    ctx.every(2000, list.load); // states change by themselves: CREATING -> ACTIVE, DELETING -> DELETED
}

async function deleteFleet(ctx, name, after) {
    if (!(await confirmDialog(`Delete fleet ${name}?`, `Users lose access to every website of ${name}. Its domains, certificate authorities, devices and sessions are removed. This cannot be undone.`, 'Delete fleet'))) return;
    if (await ctx.act(`Fleet ${name} is being deleted.`, () => ctx.api.call('DeleteFleet', { FleetArn: fleetArn(ctx, name) }))) after();
}

async function createFleetPage(main, ctx) {
    const name = h('input', { name: 'fleet-name', required: true, maxlength: '48', spellcheck: 'false', autocapitalize: 'off' });
    const display = h('input', { name: 'display-name', maxlength: '100' });
    const optimize = h('input', { type: 'checkbox', name: 'optimize', checked: true });
    const form = h('form.card', h('h1', 'Create fleet'),
        field('Fleet name', name, 'Up to 48 lowercase letters, numbers and "-"; no spaces. Used in the fleet\u2019s ARN.'),
        field('Display name (optional)', display, 'A friendly name, for searching.'),
        h('div.field.check', optimize, h('label', { for: optimize.id = uid('f') }, 'Optimize for end-user location')),
        h('div.actions', button('Cancel', () => ctx.go('#/fleets')), button('Create fleet', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const input = { FleetName: name.value.trim(), OptimizeForEndUserLocation: optimize.checked };
        if (display.value.trim()) input.DisplayName = display.value.trim();
        if (await ctx.act(`Fleet ${input.FleetName} created.`, () => ctx.api.call('CreateFleet', input))) {
            location.hash = '#/fleets';
            notify(`Fleet ${input.FleetName} created; it becomes ACTIVE shortly.`);
        }
    });
    append(main, form);
}

// ---- one fleet: navigation and sections ------------------------------------------------------
const SECTIONS = [
    ['', 'Fleet details'], ['idp', 'Identity provider (IdP)'], ['network', 'Company network'],
    ['device-policy', 'Device policies'], ['domains', 'Domains'], ['cas', 'Website certificate authorities'],
    ['authps', 'Website authorization providers'], ['audit', 'Audit logs'], ['invites', 'User invites'],
    ['users', 'Users'], ['devices', 'Devices'],
];

async function fleetPage(main, ctx) {
    const [, name, section = '', sub] = ctx.parts;
    const arn = fleetArn(ctx, name);
    const nav = h('nav.side', { 'aria-label': 'Fleet ' + name }, h('ul', SECTIONS.map(([id, label]) =>
        h('li', h('a', { href: `#/fleets/${enc(name)}${id ? '/' + id : ''}`, 'aria-current': id === section ? 'page' : null }, label)))));
    const content = h('section.content');
    append(main, h('p.crumbs', h('a', { href: '#/fleets' }, 'Fleets'), ' / ', h('span', name)), h('div.fleet', nav, content));
    const f = { name, arn };
    const render = {
        '': summarySection, idp: idpSection, network: networkSection, 'device-policy': devicePolicySection,
        domains: sub ? domainDetails : domainsSection, cas: sub ? caDetails : casSection, authps: authpsSection,
        audit: auditSection, invites: invitesSection, users: usersSection, devices: sub ? deviceDetails : devicesSection,
    }[section];
    if (!render) throw new Error('no such page: ' + section);
    await render(content, ctx, f, sub);
}

async function summarySection(el, ctx, f) {
    const m = await ctx.api.call('DescribeFleetMetadata', { FleetArn: f.arn });
    const status = h('span', badge(m.FleetStatus));
    append(el, h('h1', m.DisplayName ? `${m.DisplayName} (${f.name})` : f.name),
        dl([['Fleet name', f.name], ['Fleet ARN', h('code', f.arn)], ['Display name', m.DisplayName], ['Company code', h('code', m.CompanyCode || '—')],
            ['Status', status], ['Created', when(m.CreatedTime)], ['Last updated', when(m.LastUpdatedTime)],
            ['Optimized for end-user location', m.OptimizeForEndUserLocation ? 'Yes' : 'No']]));
    ctx.every(2000, async () => {
        try {
            const n = await ctx.api.call('DescribeFleetMetadata', { FleetArn: f.arn });
            if (ctx.live()) status.replaceChildren(badge(n.FleetStatus));
        } catch (e) {
            if (ctx.live()) status.replaceChildren(h('span.error', errorText(e)));
        }
    });
    if (!ctx.can) return;
    const display = h('input', { name: 'display-name', value: m.DisplayName || '', maxlength: '100' });
    const optimize = h('input', { type: 'checkbox', name: 'optimize', checked: !!m.OptimizeForEndUserLocation });
    const form = h('form.card', h('h2', 'Edit fleet'), field('Display name', display),
        h('div.field.check', optimize, h('label', { for: optimize.id = uid('f') }, 'Optimize for end-user location')),
        h('div.actions', button('Save changes', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (await ctx.act('Fleet updated.', () => ctx.api.call('UpdateFleetMetadata', { FleetArn: f.arn, DisplayName: display.value, OptimizeForEndUserLocation: optimize.checked }))) ctx.refresh();
    });
    append(el, form, h('div.card.dangerzone', h('h2', 'Delete fleet'), h('p', 'Deleting a fleet permanently prevents users from reaching any of its websites.'),
        button('Delete fleet', () => deleteFleet(ctx, f.name, () => ctx.go('#/fleets')), { danger: true })));
}

function xmlInfo(xml) {
    try {
        const doc = new DOMParser().parseFromString(xml, 'application/xml');
        if (doc.getElementsByTagName('parsererror').length) return {};
        const ed = doc.getElementsByTagNameNS('*', 'EntityDescriptor')[0];
        const acs = doc.getElementsByTagNameNS('*', 'AssertionConsumerService')[0];
        const sso = doc.getElementsByTagNameNS('*', 'SingleSignOnService')[0];
        return { entityId: ed && ed.getAttribute('entityID'), acs: acs && acs.getAttribute('Location'), sso: sso && sso.getAttribute('Location') };
    } catch {
        return {};
    }
}

async function idpSection(el, ctx, f) {
    const c = await ctx.api.call('DescribeIdentityProviderConfiguration', { FleetArn: f.arn });
    const idp = c.IdentityProviderSamlMetadata ? xmlInfo(c.IdentityProviderSamlMetadata) : null;
    const sp = c.ServiceProviderSamlMetadata ? xmlInfo(c.ServiceProviderSamlMetadata) : {};
    append(el, h('h1', 'Identity provider (IdP)'),
        dl([['Provider type', c.IdentityProviderType || 'Not linked'], ['IdP entity ID', idp && idp.entityId], ['IdP sign-in URL', idp && idp.sso]]),
        c.IdentityProviderSamlMetadata ? button('Download IdP metadata document', () => download(`${f.name}-idp-metadata.xml`, c.IdentityProviderSamlMetadata, 'application/samlmetadata+xml')) : null,
        h('h2', 'Service provider metadata document'),
        c.ServiceProviderSamlMetadata
            ? [h('p', 'Upload this document to your IdP, or copy its entity ID (audience URI) and ACS URL into the IdP\u2019s portal.'),
                dl([['Entity ID (audience URI)', h('code', sp.entityId || '—')], ['Assertion consumer service (ACS) URL', h('code', sp.acs || '—')]]),
                button('Download service provider metadata', () => download(`${f.name}-sp-metadata.xml`, c.ServiceProviderSamlMetadata, 'application/samlmetadata+xml')),
                h('details', h('summary', 'Show the document'), h('pre.doc', c.ServiceProviderSamlMetadata))]
            : h('p', 'The service provider document is generated when the fleet is created.'));
    if (!ctx.can) return;
    const type = h('select', { name: 'provider-type' }, h('option', { value: 'SAML' }, 'SAML'));
    const file = h('input', { type: 'file', name: 'idp-metadata', accept: '.xml,application/xml,text/xml', required: true });
    const form = h('form.card', h('h2', c.IdentityProviderType ? 'Edit IdP' : 'Link IdP'), field('Provider type', type),
        field('IdP metadata document', file, 'The SAML 2.0 metadata XML generated by your identity provider.'),
        h('div.actions', button('Link IdP', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const ok = await ctx.act('IdP linked.', async () => {
            const xml = await readFile(file, 200 * 1024);
            if (!xml) throw new Error('Choose the IdP metadata document first.');
            return ctx.api.call('UpdateIdentityProviderConfiguration', { FleetArn: f.arn, IdentityProviderType: type.value, IdentityProviderSamlMetadata: xml });
        });
        if (ok) { ctx.refresh(); notify('IdP linked.'); }
    });
    append(el, form);
}

const idList = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

async function networkSection(el, ctx, f) {
    const n = await ctx.api.call('DescribeCompanyNetworkConfiguration', { FleetArn: f.arn });
    append(el, h('h1', 'Company network'),
        dl([['VPC', n.VpcId], ['Subnets', (n.SubnetIds || []).join(', ')], ['Security groups', (n.SecurityGroupIds || []).join(', ')]]));
    if (!ctx.can) return;
    const vpc = h('input', { name: 'vpc', value: n.VpcId || '', required: true, spellcheck: 'false' });
    const subnets = h('textarea', { name: 'subnets', rows: '3', required: true, text: (n.SubnetIds || []).join('\n') });
    const sgs = h('textarea', { name: 'security-groups', rows: '2', required: true, text: (n.SecurityGroupIds || []).join('\n') });
    const form = h('form.card', h('h2', n.VpcId ? 'Edit company network' : 'Link network'),
        field('VPC', vpc, 'e.g. vpc-0a1b2c3d (from the network inventory).'),
        field('Subnets', subnets, 'One per line or separated by commas; at least two, in different zones, are recommended.'),
        field('Security groups', sgs, 'One to five, one per line or separated by commas.'),
        h('div.actions', button('Link company network', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (await ctx.act('Company network linked.', () => ctx.api.call('UpdateCompanyNetworkConfiguration', { FleetArn: f.arn, VpcId: vpc.value.trim(), SubnetIds: idList(subnets.value), SecurityGroupIds: idList(sgs.value) }))) {
            ctx.refresh();
            notify('Company network linked.');
        }
    });
    append(el, form);
}

async function devicePolicySection(el, ctx, f) {
    const p = await ctx.api.call('DescribeDevicePolicyConfiguration', { FleetArn: f.arn });
    append(el, h('h1', 'Device policies'),
        p.DeviceCaCertificate
            ? [h('p', 'Devices must present a certificate issued by this certificate chain.'), h('pre.doc', p.DeviceCaCertificate),
                button('Download certificate chain', () => download(`${f.name}-device-ca.pem`, p.DeviceCaCertificate, 'application/x-pem-file')),
                ctx.w(button('Remove device certificate authority', async () => {
                    if (!(await confirmDialog('Remove the device policy?', 'Devices will no longer need a device certificate to connect.', 'Remove'))) return;
                    if (await ctx.act('Device policy removed.', () => ctx.api.call('UpdateDevicePolicyConfiguration', { FleetArn: f.arn }))) { ctx.refresh(); notify('Device policy removed.'); }
                }, { danger: true }))]
            : h('p', 'No device policy: any device of a signed-in user may connect.'));
    if (!ctx.can) return;
    const file = h('input', { type: 'file', name: 'device-ca', accept: '.pem,.crt,.cer', required: true });
    const form = h('form.card', h('h2', 'Configure device policies'),
        field('Device certificate authority', file, 'The PEM certificate chain (intermediates and the root) that issues device certificates.'),
        h('div.actions', button('Configure device policies', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const ok = await ctx.act('Device policy configured.', async () => {
            const pem = await readFile(file, 32768);
            if (!pem) throw new Error('Choose the certificate chain file first.');
            return ctx.api.call('UpdateDevicePolicyConfiguration', { FleetArn: f.arn, DeviceCaCertificate: pem });
        });
        if (ok) { ctx.refresh(); notify('Device policy configured.'); }
    });
    append(el, form);
}

// ---- certificates (ACM) ----------------------------------------------------------------------
function importCertForm(ctx, onImported) {
    const cert = h('input', { type: 'file', name: 'certificate', accept: '.pem,.crt,.cer', required: true });
    const key = h('input', { type: 'file', name: 'private-key', accept: '.pem,.key', required: true });
    const chain = h('input', { type: 'file', name: 'certificate-chain', accept: '.pem,.crt,.cer' });
    const form = h('form.card', h('h2', 'Import a certificate'),
        h('p', 'The certificate goes to the certificate store (the ACM API of this endpoint); its private key is sealed at rest and never returned.'),
        field('Certificate body (PEM)', cert), field('Certificate private key (PEM, unencrypted)', key), field('Certificate chain (PEM, optional)', chain),
        h('div.actions', button('Import certificate', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        await ctx.act('Certificate imported.', async () => {
            const c = await readFile(cert, 65536), k = await readFile(key, 65536), ch = await readFile(chain, 2 * 1024 * 1024);
            if (!c || !k) throw new Error('Choose the certificate and its private key first.');
            const input = { Certificate: b64(c), PrivateKey: b64(k) };
            if (ch) input.CertificateChain = b64(ch);
            const r = await ctx.api.acm('ImportCertificate', input);
            form.reset();
            await onImported(r.CertificateArn); // e.g. the domain form selects it
            return r;
        });
    });
    return form;
}

async function certificatesPage(main, ctx) {
    const list = pagedList(ctx, {
        noun: 'Certificates', caption: 'Certificates of this account', key: (c) => c.CertificateArn,
        columns: ['Domain name', 'Certificate ARN'], cells: (c) => [c.DomainName || '—', h('code', c.CertificateArn)],
        empty: 'No certificates yet.',
        load: async (token, size) => {
            const out = await ctx.api.acm('ListCertificates', { MaxItems: size, ...(token ? { NextToken: token } : {}) });
            return { items: out.CertificateSummaryList || [], next: out.NextToken };
        },
    });
    const details = h('div');
    append(main, h('h1', 'Certificates'), h('p.lead', 'TLS certificates for associated domains. Import them here, then choose them when you associate a domain.'),
        h('div.toolbar',
            button('View details', onSelected(list, async (c) => {
                const d = await ctx.act('Certificate loaded.', () => ctx.api.acm('DescribeCertificate', { CertificateArn: c.CertificateArn }));
                if (!d) return;
                const x = d.Certificate || {};
                details.replaceChildren(h('div.card', h('h2', x.DomainName || 'Certificate'), dl([['ARN', h('code', x.CertificateArn)], ['Names', (x.SubjectAlternativeNames || []).join(', ')], ['Status', x.Status],
                    ['Key algorithm', x.KeyAlgorithm], ['Issuer', x.Issuer], ['Valid from', when(x.NotBefore)], ['Valid until', when(x.NotAfter)], ['In use by', (x.InUseBy || []).join(', ') || 'nothing']])));
            })),
            ctx.w(button('Delete', onSelected(list, async (c) => {
                if (!(await confirmDialog('Delete this certificate?', c.CertificateArn, 'Delete certificate'))) return;
                if (await ctx.act('Certificate deleted.', () => ctx.api.acm('DeleteCertificate', { CertificateArn: c.CertificateArn }))) list.load();
            }), { danger: true }))),
        list.el, details, ctx.w(importCertForm(ctx, () => list.load())));
    await list.load();
}

// ---- domains ---------------------------------------------------------------------------------
async function domainsSection(el, ctx, f) {
    const list = pagedList(ctx, {
        noun: 'Domains', caption: 'Associated domains', key: (d) => d.DomainName,
        columns: ['Domain', 'Display name', 'Date created', 'Status'],
        cells: (d) => [h('a', { href: `#/fleets/${enc(f.name)}/domains/${enc(d.DomainName)}` }, d.DomainName), d.DisplayName || '—', when(d.CreatedTime), badge(d.DomainStatus)],
        empty: 'No domains associated yet.',
        load: async (token, size) => {
            const out = await ctx.api.call('ListDomains', { FleetArn: f.arn, MaxResults: size, ...(token ? { NextToken: token } : {}) });
            return { items: out.Domains || [], next: out.NextToken };
        },
    });
    const act = (verb, op, past) => onSelected(list, async (d) => {
        if (op === 'DisassociateDomain' && !(await confirmDialog(`Disassociate ${d.DomainName}?`, 'Users lose access to it for good; to block it for a while, revoke it instead.', 'Disassociate'))) return;
        if (await ctx.act(`${d.DomainName} ${past}.`, () => ctx.api.call(op, { FleetArn: f.arn, DomainName: d.DomainName }))) list.load();
    });
    append(el, h('h1', 'Domains'),
        h('div.toolbar',
            button('View details', onSelected(list, (d) => ctx.go(`#/fleets/${enc(f.name)}/domains/${enc(d.DomainName)}`))),
            ctx.w(button('Revoke', act('Revoke', 'RevokeDomainAccess', 'revoked'))),
            ctx.w(button('Restore', act('Restore', 'RestoreDomainAccess', 'restored'))),
            ctx.w(button('Disassociate', act('Disassociate', 'DisassociateDomain', 'is being disassociated'), { danger: true }))),
        list.el);
    await list.load();
    ctx.every(2000, list.load);
    if (!ctx.can) return;
    // associate: domain, display name, certificate (chosen from the store, or imported here)
    const domain = h('input', { name: 'domain-name', required: true, spellcheck: 'false', autocapitalize: 'off' });
    const display = h('input', { name: 'display-name', maxlength: '100' });
    const cert = h('select', { name: 'certificate', required: true });
    async function loadCerts(select) {
        const all = [];
        let token;
        do {
            const out = await ctx.api.acm('ListCertificates', { MaxItems: 100, ...(token ? { NextToken: token } : {}) });
            all.push(...(out.CertificateSummaryList || []));
            token = out.NextToken;
        } while (token && all.length < 1000);
        cert.replaceChildren(h('option', { value: '' }, all.length ? 'Choose a certificate' : 'No certificates: import one below'),
            ...all.map((c) => h('option', { value: c.CertificateArn }, `${c.DomainName} \u2014 ${c.CertificateArn}`)));
        if (select) cert.value = select;
    }
    await loadCerts();
    const form = h('form.card', h('h2', 'Associate domain'),
        field('Domain name', domain, 'The web address of the site, e.g. wiki.example.com.'),
        field('Display name', display),
        field('Certificate', cert, 'A certificate of the certificate store that covers the domain.'),
        h('div.actions', button('Associate domain', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const input = { FleetArn: f.arn, DomainName: domain.value.trim(), AcmCertificateArn: cert.value };
        if (display.value.trim()) input.DisplayName = display.value.trim();
        if (await ctx.act(`${input.DomainName} is being associated.`, () => ctx.api.call('AssociateDomain', input))) { form.reset(); list.load(); }
    });
    append(el, form, importCertForm(ctx, (arn) => loadCerts(arn)));
}

async function domainDetails(el, ctx, f, name) {
    const d = await ctx.api.call('DescribeDomain', { FleetArn: f.arn, DomainName: name });
    const status = h('span', badge(d.DomainStatus));
    append(el, h('p.crumbs', h('a', { href: `#/fleets/${enc(f.name)}/domains` }, 'Domains'), ' / ', name), h('h1', name),
        dl([['Domain', d.DomainName], ['Display name', d.DisplayName], ['Date added', when(d.CreatedTime)], ['Status', status], ['Certificate', h('code', d.AcmCertificateArn || '—')]]));
    ctx.every(2000, async () => {
        try {
            const n = await ctx.api.call('DescribeDomain', { FleetArn: f.arn, DomainName: name });
            if (ctx.live()) status.replaceChildren(badge(n.DomainStatus));
        } catch (e) {
            if (ctx.live()) status.replaceChildren(h('span.error', errorText(e)));
        }
    });
    if (!ctx.can) return;
    const display = h('input', { name: 'display-name', value: d.DisplayName || '', maxlength: '100' });
    const form = h('form.card', h('h2', 'Edit domain'), field('Display name', display), h('div.actions', button('Save changes', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (await ctx.act('Domain updated.', () => ctx.api.call('UpdateDomainMetadata', { FleetArn: f.arn, DomainName: name, DisplayName: display.value }))) { ctx.refresh(); notify('Domain updated.'); }
    });
    const simple = (label, op, past, danger) => button(label, async () => {
        if (danger && !(await confirmDialog(`Disassociate ${name}?`, 'Users lose access to it for good; to block it for a while, revoke it instead.', 'Disassociate'))) return;
        if (await ctx.act(`${name} ${past}.`, () => ctx.api.call(op, { FleetArn: f.arn, DomainName: name }))) {
            if (danger) ctx.go(`#/fleets/${enc(f.name)}/domains`);
            else { ctx.refresh(); notify(`${name} ${past}.`); }
        }
    }, { danger });
    append(el, form, h('div.toolbar', simple('Revoke', 'RevokeDomainAccess', 'revoked'), simple('Restore', 'RestoreDomainAccess', 'restored'),
        simple('Disassociate', 'DisassociateDomain', 'is being disassociated', true)));
}

// ---- website certificate authorities ---------------------------------------------------------
async function casSection(el, ctx, f) {
    const list = pagedList(ctx, {
        noun: 'Certificate authorities', caption: 'Website certificate authorities', key: (c) => c.WebsiteCaId,
        columns: ['Display name', 'ID', 'Date created'],
        cells: (c) => [h('a', { href: `#/fleets/${enc(f.name)}/cas/${enc(c.WebsiteCaId)}` }, c.DisplayName || '(no name)'), h('code', c.WebsiteCaId), when(c.CreatedTime)],
        empty: 'No website certificate authorities uploaded.',
        load: async (token, size) => {
            const out = await ctx.api.call('ListWebsiteCertificateAuthorities', { FleetArn: f.arn, MaxResults: size, ...(token ? { NextToken: token } : {}) });
            return { items: out.WebsiteCertificateAuthorities || [], next: out.NextToken };
        },
    });
    append(el, h('h1', 'Website certificate authorities'),
        h('p.lead', 'Upload the root certificates of private CAs that issue your websites\u2019 TLS certificates.'),
        h('div.toolbar',
            button('View details', onSelected(list, (c) => ctx.go(`#/fleets/${enc(f.name)}/cas/${enc(c.WebsiteCaId)}`))),
            button('Download', onSelected(list, async (c) => {
                const d = await ctx.act('Certificate authority downloaded.', () => ctx.api.call('DescribeWebsiteCertificateAuthority', { FleetArn: f.arn, WebsiteCaId: c.WebsiteCaId }));
                if (d) download(`${c.DisplayName || c.WebsiteCaId}.pem`, d.Certificate, 'application/x-pem-file');
            })),
            ctx.w(button('Delete', onSelected(list, async (c) => {
                if (!(await confirmDialog(`Delete ${c.DisplayName || c.WebsiteCaId}?`, 'Websites whose certificates it issued can no longer be verified.', 'Delete'))) return;
                if (await ctx.act('Certificate authority deleted.', () => ctx.api.call('DisassociateWebsiteCertificateAuthority', { FleetArn: f.arn, WebsiteCaId: c.WebsiteCaId }))) list.load();
            }), { danger: true }))),
        list.el);
    await list.load();
    if (!ctx.can) return;
    const file = h('input', { type: 'file', name: 'ca-certificate', accept: '.pem,.crt,.cer', required: true });
    const display = h('input', { name: 'display-name', maxlength: '100' });
    const form = h('form.card', h('h2', 'Upload CAs'), field('Root certificate (PEM)', file), field('Display name', display),
        h('div.actions', button('Upload CAs', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const ok = await ctx.act('Certificate authority uploaded.', async () => {
            const pem = await readFile(file, 8192);
            if (!pem) throw new Error('Choose the certificate file first.');
            const input = { FleetArn: f.arn, Certificate: pem };
            if (display.value.trim()) input.DisplayName = display.value.trim();
            return ctx.api.call('AssociateWebsiteCertificateAuthority', input);
        });
        if (ok) { form.reset(); list.load(); }
    });
    append(el, form);
}

async function caDetails(el, ctx, f, id) {
    const c = await ctx.api.call('DescribeWebsiteCertificateAuthority', { FleetArn: f.arn, WebsiteCaId: id });
    append(el, h('p.crumbs', h('a', { href: `#/fleets/${enc(f.name)}/cas` }, 'Website certificate authorities'), ' / ', id),
        h('h1', c.DisplayName || id), dl([['ID', h('code', id)], ['Display name', c.DisplayName], ['Date created', when(c.CreatedTime)]]),
        h('pre.doc', c.Certificate), button('Download', () => download(`${c.DisplayName || id}.pem`, c.Certificate, 'application/x-pem-file')));
}

// ---- website authorization providers ---------------------------------------------------------
async function authpsSection(el, ctx, f) {
    const list = pagedList(ctx, {
        noun: 'Providers', caption: 'Website authorization providers', key: (p) => p.AuthorizationProviderId,
        columns: ['Domain', 'Provider type', 'Date created', 'ID'],
        cells: (p) => [p.DomainName || '—', p.AuthorizationProviderType, when(p.CreatedTime), h('code', p.AuthorizationProviderId)],
        empty: 'No website authorization providers.',
        load: async (token, size) => {
            const out = await ctx.api.call('ListWebsiteAuthorizationProviders', { FleetArn: f.arn, MaxResults: size, ...(token ? { NextToken: token } : {}) });
            return { items: out.WebsiteAuthorizationProviders || [], next: out.NextToken };
        },
    });
    append(el, h('h1', 'Website authorization providers'),
        h('div.toolbar', ctx.w(button('Disassociate', onSelected(list, async (p) => {
            if (!(await confirmDialog(`Disassociate the provider of ${p.DomainName || p.AuthorizationProviderId}?`, 'The fleet stops trusting it.', 'Disassociate'))) return;
            if (await ctx.act('Provider disassociated.', () => ctx.api.call('DisassociateWebsiteAuthorizationProvider', { FleetArn: f.arn, AuthorizationProviderId: p.AuthorizationProviderId }))) list.load();
        }), { danger: true }))),
        list.el);
    await list.load();
    if (!ctx.can) return;
    const type = h('select', { name: 'provider-type' }, h('option', { value: 'SAML' }, 'SAML'));
    const domain = h('input', { name: 'domain-name', spellcheck: 'false', autocapitalize: 'off' });
    const form = h('form.card', h('h2', 'Associate provider'), field('Provider type', type, 'Currently, SAML is the only supported type.'),
        field('Domain', domain, 'The domain name of the authorization provider.'), h('div.actions', button('Associate provider', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const input = { FleetArn: f.arn, AuthorizationProviderType: type.value };
        if (domain.value.trim()) input.DomainName = domain.value.trim();
        if (await ctx.act('Provider associated.', () => ctx.api.call('AssociateWebsiteAuthorizationProvider', input))) { form.reset(); list.load(); }
    });
    append(el, form);
}

// ---- audit logs ------------------------------------------------------------------------------
async function auditSection(el, ctx, f) {
    const a = await ctx.api.call('DescribeAuditStreamConfiguration', { FleetArn: f.arn });
    append(el, h('h1', 'Audit logs'), h('p.lead', 'Every device request is recorded in this stream: user, device, domain, URL, status.'),
        dl([['Audit stream ARN', a.AuditStreamArn ? h('code', a.AuditStreamArn) : 'Not configured']]));
    if (!ctx.can) return;
    const arn = h('input', { name: 'audit-stream-arn', value: a.AuditStreamArn || '', spellcheck: 'false', autocapitalize: 'off' });
    const form = h('form.card', h('h2', 'Configure audit logs'),
        field('Kinesis stream ARN', arn, `e.g. arn:aws:kinesis:${ctx.session.who.Region}:${ctx.session.who.AccountId}:stream/AmazonWorkLink-audit (the name must start with AmazonWorkLink-).`),
        h('div.actions', a.AuditStreamArn ? button('Remove audit logs', async () => {
            if (!(await confirmDialog('Stop audit logs?', 'Device requests will no longer be recorded.', 'Remove'))) return;
            if (await ctx.act('Audit logs removed.', () => ctx.api.call('UpdateAuditStreamConfiguration', { FleetArn: f.arn }))) { ctx.refresh(); notify('Audit logs removed.'); }
        }, { danger: true }) : null, button('Link audit logs', null, { type: 'submit', primary: true })));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (await ctx.act('Audit logs linked.', () => ctx.api.call('UpdateAuditStreamConfiguration', { FleetArn: f.arn, AuditStreamArn: arn.value.trim() }))) { ctx.refresh(); notify('Audit logs linked.'); }
    });
    append(el, form);
}

// ---- user invites ----------------------------------------------------------------------------
export function inviteText(code) {
    return `Subject: Reach our internal websites from your phone with WorkLink

Hello,

You can now open our internal websites from your phone, securely, with WorkLink.

1. Install the WorkLink app on your phone (iOS 11 or later with Safari, or Android 6 or later with Google Chrome).
2. Open the app and enter our company code: ${code}
3. Sign in with your usual company credentials and allow the app's VPN.

Then open internal websites in Safari or Chrome as you would any other site.

Thank you.
`;
}

async function invitesSection(el, ctx, f) {
    const m = await ctx.api.call('DescribeFleetMetadata', { FleetArn: f.arn });
    if (!m.CompanyCode) {
        append(el, h('h1', 'User invites'), h('p', `The fleet has no company code (status ${m.FleetStatus}).`));
        return;
    }
    const text = inviteText(m.CompanyCode);
    const area = h('textarea.invite', { name: 'invite', rows: '16', readOnly: true, text });
    async function copy() {
        try {
            await navigator.clipboard.writeText(area.value);
        } catch {
            area.select();
            if (!document.execCommand('copy')) throw new Error('the browser refused to copy: select the text and copy it yourself');
        }
    }
    append(el, h('h1', 'User invites'), dl([['Company code', h('code.code', m.CompanyCode)]]),
        h('p', 'Copy this email, review it, and send it to your users.'), field('Email template', area),
        h('div.actions', button('Copy email template', () => ctx.act('Email template copied to the clipboard.', copy), { primary: true }),
            button('Download email template', () => download(`${f.name}-invite.txt`, text, 'text/plain'))));
}

// ---- users and devices -----------------------------------------------------------------------
async function describeAll(ctx, f, ids) {
    const out = new Map();
    const queue = [...ids];
    const worker = async () => {
        while (queue.length) {
            const id = queue.shift();
            try {
                out.set(id, await ctx.api.call('DescribeDevice', { FleetArn: f.arn, DeviceId: id }));
            } catch (e) {
                out.set(id, { error: errorText(e) });
            }
        }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return out;
}

async function usersSection(el, ctx, f) {
    const devices = await ctx.api.listAll('ListDevices', { FleetArn: f.arn }, 'Devices');
    const details = await describeAll(ctx, f, devices.map((d) => d.DeviceId));
    const users = new Map();
    for (const d of devices) {
        const x = details.get(d.DeviceId) || {};
        const u = x.Username || '(unknown)';
        if (!users.has(u)) users.set(u, { name: u, n: 0, active: 0 });
        users.get(u).n++;
        if (d.DeviceStatus === 'ACTIVE') users.get(u).active++;
    }
    const rows = [...users.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const sel = uid('user');
    async function signOutUser(name) {
        if (!(await confirmDialog(`Sign ${name} out?`, `Every session of ${name} ends and their devices must sign in again.`, 'Sign user out'))) return;
        if (await ctx.act(`${name} signed out.`, () => ctx.api.call('SignOutUser', { FleetArn: f.arn, Username: name }))) { ctx.refresh(); notify(`${name} signed out.`); }
    }
    append(el, h('h1', 'Users'), h('p.lead', 'Users who signed in on a device.'),
        ctx.w(h('div.toolbar', button('Sign user out', () => {
            const r = el.querySelector(`input[name="${sel}"]:checked`);
            if (!r) return notify('Select a user first.', true);
            signOutUser(r.value);
        }, { danger: true }))),
        table('Users', ['Select', 'User name', 'Number of devices', 'Active devices'],
            rows.map((u) => [h('input', { type: 'radio', name: sel, value: u.name, 'aria-label': 'Select ' + u.name }), u.name, String(u.n), String(u.active)]), 'No user has signed in yet.'));
    if (!ctx.can) return;
    const name = h('input', { name: 'username', required: true, spellcheck: 'false', autocapitalize: 'off' });
    const form = h('form.card', h('h2', 'Sign out a user by name'), field('User name', name, 'As the IdP names the user.'),
        h('div.actions', button('Sign user out', null, { type: 'submit', danger: true })));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); signOutUser(name.value.trim()); });
    append(el, form);
}

async function devicesSection(el, ctx, f) {
    const list = pagedList(ctx, {
        noun: 'Devices', caption: 'Devices', key: (d) => d.DeviceId,
        columns: ['Device ID', 'Status', 'Manufacturer', 'Model', 'User', 'Enrolled date'],
        cells: (d) => [h('a', { href: `#/fleets/${enc(f.name)}/devices/${enc(d.DeviceId)}` }, d.DeviceId), badge(d.DeviceStatus), d.Manufacturer || '—', d.Model || '—', d.Username || '—', when(d.FirstAccessedTime)],
        empty: 'No devices yet: they appear when users sign in from the app.',
        load: async (token, size) => {
            const out = await ctx.api.call('ListDevices', { FleetArn: f.arn, MaxResults: size, ...(token ? { NextToken: token } : {}) });
            const items = out.Devices || [];
            const det = await describeAll(ctx, f, items.map((d) => d.DeviceId));
            return { items: items.map((d) => ({ ...det.get(d.DeviceId), ...d })), next: out.NextToken };
        },
    });
    append(el, h('h1', 'Devices'), h('div.toolbar', button('View details', onSelected(list, (d) => ctx.go(`#/fleets/${enc(f.name)}/devices/${enc(d.DeviceId)}`)))), list.el);
    await list.load();
}

async function deviceDetails(el, ctx, f, id) {
    const d = await ctx.api.call('DescribeDevice', { FleetArn: f.arn, DeviceId: id });
    append(el, h('p.crumbs', h('a', { href: `#/fleets/${enc(f.name)}/devices` }, 'Devices'), ' / ', id), h('h1', 'Device ' + id),
        dl([['Device ID', h('code', id)], ['User', d.Username], ['Device model', d.Model], ['Device manufacturer', d.Manufacturer], ['Operating system', [d.OperatingSystem, d.OperatingSystemVersion].filter(Boolean).join(' ')],
            ['Patch level', d.PatchLevel], ['Status', badge(d.Status)], ['Last sync', when(d.LastAccessedTime)], ['Enrolled date', when(d.FirstAccessedTime)]]));
}

export const routes = [
    { match: (p) => p.length === 0 || (p[0] === 'fleets' && p.length === 1), render: fleetsPage },
    { match: (p) => p[0] === 'create-fleet', render: createFleetPage },
    { match: (p) => p[0] === 'certificates', render: certificatesPage },
    { match: (p) => p[0] === 'fleets' && p.length >= 2, render: fleetPage },
];
