// drive.mjs - drives Debian's Chromium (headless, playwright-core) through the admin guide's
// Getting Started in the WorkLink console. Run by test_console.py, which owns the servers and
// checks the results with /usr/bin/aws: at each "CHECKPOINT name json" line printed here it
// checks (or seeds Redis), then answers one line on stdin: "ok" or "fail <why>".
// Environment: WL_BASE (http://127.0.0.1:PORT), WL_FILES (JSON: paths of test files and
// principals), WL_SHOTS (screenshot folder), WL_PW_PREFIX (where playwright-core is installed).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.env.WL_PW_PREFIX, 'package.json'));
const { chromium } = require('playwright-core');

const BASE = process.env.WL_BASE;
const F = JSON.parse(process.env.WL_FILES);
const SHOTS = process.env.WL_SHOTS;
fs.mkdirSync(SHOTS, { recursive: true });

let failures = 0, checks = 0;
function check(cond, what) {
    checks++;
    if (!cond) {
        failures++;
        console.log('FAIL: ' + what);
    }
    return cond;
}

const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
async function checkpoint(name, data = {}) {
    console.log('CHECKPOINT ' + name + ' ' + JSON.stringify(data));
    const { value } = await lines.next();
    check(value === 'ok', `checkpoint ${name}: ${value}`);
}

const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    // playwright gives each launch a fresh, temporary --user-data-dir of its own
});
const pageErrors = [];
const leaks = [];
async function newPage(viewport = { width: 1280, height: 900 }) {
    const context = await browser.newContext({ viewport, acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    page.on('pageerror', (e) => pageErrors.push('pageerror: ' + e.message));
    // the secret never leaves the page: not in a URL, a header or a body of any request
    page.on('request', (r) => {
        const all = r.url() + JSON.stringify(r.headers()) + (r.postData() || '');
        for (const secret of [F.admin[1], F.readonly[1], 'not-the-secret'])
            if (all.includes(secret)) leaks.push(r.method() + ' ' + r.url());
    });
    // API refusals the walk-through provokes (wrong secret, invalid name) are logged by Chromium
    // as failed loads; anything else (CSP violations: "Refused to ...", exceptions) is an error
    page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push('console: ' + m.text());
    });
    return page;
}

async function shot(page, name) {
    await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

// Every form control has a label (or aria-label); the page has one h1.
async function a11y(page, where) {
    const bad = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map((el) => el.outerHTML.slice(0, 80)));
    check(bad.length === 0, `${where}: unlabelled controls ${JSON.stringify(bad)}`);
    check((await page.locator('main h1').count()) === 1, `${where}: one h1`);
}

async function signIn(page, ak, sk, url = BASE + '/') {
    await page.goto(url);
    await page.reload(); // a new document: the signing key of a previous sign-in is gone
    await page.getByLabel('Access key ID').fill(ak);
    await page.getByLabel('Secret access key').fill(sk);
    await page.getByRole('button', { name: 'Sign in' }).click();
}

const main = (page) => page.locator('main');
const status = (page) => page.locator('#status');
async function expectText(locator, text, what, timeout = 30000) {
    try {
        await locator.filter({ hasText: text }).first().waitFor({ timeout });
        return check(true, what);
    } catch {
        const page = locator.page();
        await page.screenshot({ path: path.join(SHOTS, 'failed-' + checks + '.png'), fullPage: true }).catch(() => {});
        const seen = await page.locator('main').innerText().catch(() => '?');
        return check(false, `${what}: "${text}" not shown (screenshot failed-${checks}.png); page: ${seen.replace(/\s+/g, ' ').slice(0, 1500)}`);
    }
}
const row = (page, text) => page.locator('tbody tr', { hasText: text });
async function section(page, name) {
    await page.locator('nav.side').getByRole('link', { name, exact: true }).click();
    await page.locator('main h1').filter({ hasText: name.replace(' (IdP)', '') }).first().waitFor();
}

try {
    const page = await newPage();
    // ---- sign-in: redirect, wrong secret (the API's error), then the full-access principal
    await page.goto(BASE + '/');
    check(page.url() === BASE + '/console/', 'GET / lands on /console/: ' + page.url());
    await a11y(page, 'sign-in');
    await shot(page, '01-sign-in');
    await signIn(page, F.admin[0], 'not-the-secret');
    await expectText(page.locator('form p.error'), 'InvalidSignatureException', 'wrong secret: the API error is shown');
    await signIn(page, F.admin[0], F.admin[1]);
    await expectText(page.locator('main h1'), 'Fleets', 'signed in: Fleets page');
    await expectText(page.locator('#who'), 'admin', 'principal shown');

    // ---- Create a fleet (and an invalid one first: the API's validation message)
    await page.getByRole('button', { name: 'Create fleet' }).click();
    await a11y(page, 'create fleet');
    await page.getByLabel('Fleet name').fill('Bad Name');
    await page.getByRole('button', { name: 'Create fleet' }).click();
    await expectText(status(page), 'InvalidRequestException: FleetName', 'invalid fleet name: API error shown');
    await page.getByLabel('Fleet name').fill('getting-started');
    await page.getByLabel('Display name (optional)').fill('Getting Started');
    await shot(page, '02-create-fleet');
    await page.getByRole('button', { name: 'Create fleet' }).click();
    await expectText(row(page, 'getting-started'), 'CREATING', 'new fleet listed as CREATING');
    await expectText(row(page, 'getting-started'), 'ACTIVE', 'fleet turns ACTIVE without a reload', 20000);
    await shot(page, '03-fleets');
    await checkpoint('fleet');

    // ---- View details
    await page.getByRole('radio', { name: 'Select getting-started' }).check();
    await page.getByRole('button', { name: 'View details' }).click();
    await expectText(page.locator('main h1'), 'Getting Started (getting-started)', 'fleet details');
    const code = (await page.locator('dl.props dd code').nth(1).innerText()).trim();
    check(/^[a-z0-9]{10}$/.test(code), 'company code shown: ' + code);
    await a11y(page, 'fleet details');
    await shot(page, '04-fleet-details');

    // ---- Identity provider: upload the IdP metadata, download the SP metadata
    await section(page, 'Identity provider (IdP)');
    await page.getByLabel('IdP metadata document').setInputFiles(F.idp);
    await page.getByRole('button', { name: 'Link IdP' }).click();
    await expectText(main(page), 'https://idp.example.test/saml', 'IdP entity ID shown after linking');
    await expectText(main(page), '/saml/acs', 'SP ACS URL shown');
    const dlp = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download service provider metadata' }).click();
    const spPath = path.join(F.dir, 'sp-downloaded.xml');
    await (await dlp).saveAs(spPath);
    await a11y(page, 'idp');
    await shot(page, '05-identity-provider');
    await checkpoint('idp', { sp: spPath });

    // ---- Company network
    await section(page, 'Company network');
    await page.getByLabel('VPC').fill('vpc-0a1b2c3d');
    await page.getByLabel('Subnets').fill('subnet-0a1b2c3d\nsubnet-1a2b3c4d');
    await page.getByLabel('Security groups').fill('sg-0a1b2c3d');
    await page.getByRole('button', { name: 'Link company network' }).click();
    await expectText(page.locator('dl.props'), 'subnet-1a2b3c4d', 'network shown after linking');
    await a11y(page, 'network');
    await shot(page, '06-company-network');
    await checkpoint('network');

    // ---- Domains: import a certificate through ACM (file pickers), associate the domain
    await section(page, 'Domains');
    await page.getByLabel('Certificate body (PEM)').setInputFiles(F.leaf);
    await page.getByLabel('Certificate private key (PEM, unencrypted)').setInputFiles(F.leafKey);
    await page.getByLabel('Certificate chain (PEM, optional)').setInputFiles(F.ca);
    await page.getByRole('button', { name: 'Import certificate' }).click();
    await expectText(status(page), 'Certificate imported', 'certificate imported');
    await page.waitForFunction(() => document.querySelector('select[name=certificate]').value !== '', null, { timeout: 10000 }).catch(() => {});
    const certArn = await page.getByLabel('Certificate', { exact: true }).inputValue();
    check(certArn.startsWith('arn:aws:acm:'), 'imported certificate selected: ' + certArn);
    await page.getByLabel('Domain name').fill('wiki.example.com');
    await page.getByLabel('Display name').fill('Wiki');
    await page.getByRole('button', { name: 'Associate domain' }).click();
    await expectText(row(page, 'wiki.example.com'), 'ASSOCIATING', 'domain ASSOCIATING');
    await expectText(row(page, 'wiki.example.com'), 'ACTIVE', 'domain turns ACTIVE without a reload', 20000);
    await a11y(page, 'domains');
    await shot(page, '07-domains');
    await checkpoint('domain', { cert: certArn });

    // ---- Website certificate authorities: upload, view, download
    await section(page, 'Website certificate authorities');
    await page.getByLabel('Root certificate (PEM)').setInputFiles(F.ca);
    await page.getByLabel('Display name').fill('Corp root');
    await page.getByRole('button', { name: 'Upload CAs' }).click();
    await expectText(page.locator('tbody'), 'Corp root', 'CA listed');
    await page.locator('tbody tr', { hasText: 'Corp root' }).getByRole('radio').check();
    const dlc = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    const caPath = path.join(F.dir, 'ca-downloaded.pem');
    await (await dlc).saveAs(caPath);
    await a11y(page, 'cas');
    await shot(page, '08-website-cas');
    await checkpoint('ca', { downloaded: caPath });

    // ---- Device policies
    await section(page, 'Device policies');
    await page.getByLabel('Device certificate authority').setInputFiles(F.deviceCa);
    await page.getByRole('button', { name: 'Configure device policies' }).click();
    await expectText(main(page), 'Devices must present a certificate', 'device policy shown');
    await a11y(page, 'device policy');
    await shot(page, '09-device-policies');
    await checkpoint('device-policy');

    // ---- Audit logs
    await section(page, 'Audit logs');
    await page.getByLabel('Kinesis stream ARN').fill(F.auditArn);
    await page.getByRole('button', { name: 'Link audit logs' }).click();
    await expectText(page.locator('dl.props'), F.auditArn, 'audit stream shown');
    await a11y(page, 'audit');
    await shot(page, '10-audit-logs');
    await checkpoint('audit');

    // ---- Website authorization providers: associate, then disassociate (with confirmation)
    await section(page, 'Website authorization providers');
    await page.getByLabel('Domain', { exact: true }).fill('auth.example.com');
    await page.getByRole('button', { name: 'Associate provider' }).click();
    await expectText(row(page, 'auth.example.com'), 'SAML', 'provider listed');
    await a11y(page, 'authps');
    await shot(page, '10b-authorization-providers');
    await checkpoint('authp');
    await row(page, 'auth.example.com').getByRole('radio').check();
    await page.getByRole('button', { name: 'Disassociate' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Disassociate' }).click();
    await expectText(main(page), 'No website authorization providers', 'provider disassociated');
    await checkpoint('authp-gone');

    // ---- User invites: copy the email template
    await section(page, 'User invites');
    await page.getByRole('button', { name: 'Copy email template' }).click();
    await expectText(status(page), 'copied', 'template copied');
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    check(clip.includes(code), 'the copied invite holds the company code');
    await a11y(page, 'invites');
    await shot(page, '11-user-invites');
    await checkpoint('invite', { text: clip });

    // ---- Revoke and restore the domain
    await section(page, 'Domains');
    await page.getByRole('radio', { name: 'Select wiki.example.com' }).check();
    await page.getByRole('button', { name: 'Revoke' }).click();
    await expectText(row(page, 'wiki.example.com'), 'INACTIVE', 'domain INACTIVE after revoke');
    await checkpoint('revoked');
    await page.getByRole('radio', { name: 'Select wiki.example.com' }).check();
    await page.getByRole('button', { name: 'Restore' }).click();
    await expectText(row(page, 'wiki.example.com'), /[^N]ACTIVE/, 'domain ACTIVE after restore');
    await page.waitForFunction(() => !document.querySelector('tbody').innerText.includes('INACTIVE'));
    await checkpoint('restored');
    // domain details: edit the display name
    await page.getByRole('link', { name: 'wiki.example.com' }).click();
    await page.getByLabel('Display name').fill('Company wiki');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expectText(page.locator('dl.props'), 'Company wiki', 'domain display name edited');
    await shot(page, '12-domain-details');

    // ---- Users: sign a user out (devices and sessions seeded in Redis as the gateway writes them)
    await checkpoint('seed-devices');
    await section(page, 'Users');
    await expectText(row(page, 'alice'), '2', 'alice has 2 devices');
    await page.getByRole('radio', { name: 'Select alice' }).check();
    await page.getByRole('button', { name: 'Sign user out' }).first().click();
    const dlg = page.locator('dialog[open]');
    await expectText(dlg, 'Sign alice out?', 'confirmation asked');
    await dlg.getByRole('button', { name: 'Sign user out' }).click();
    await expectText(status(page), 'alice signed out', 'alice signed out');
    await expectText(row(page, 'alice'), /alice20/, 'users list refreshed: alice has no active device');
    await a11y(page, 'users');
    await shot(page, '13-users');
    await checkpoint('signed-out');

    // ---- Devices: list and details
    await section(page, 'Devices');
    await expectText(row(page, 'dev-a1'), 'SIGNED_OUT', 'alice device SIGNED_OUT in the list');
    await expectText(row(page, 'dev-b1'), 'Pixel 8', 'device model listed');
    await a11y(page, 'devices');
    await shot(page, '14-devices');
    await page.getByRole('link', { name: 'dev-b1' }).click();
    await expectText(page.locator('dl.props'), '2026-11-01', 'device details: patch level');
    await shot(page, '15-device-details');

    // ---- Certificates (ACM): the imported certificate, its details
    await page.locator('#topnav').getByRole('link', { name: 'Certificates' }).click();
    await page.getByRole('radio', { name: /^Select arn:aws:acm:/ }).first().check();
    await page.getByRole('button', { name: 'View details' }).click();
    await expectText(main(page), 'EC_prime256v1', 'certificate details');
    await expectText(main(page), 'fleet/getting-started', 'certificate in use by the fleet');
    await a11y(page, 'certificates');
    await shot(page, '15b-certificates');

    // ---- Pagination of a long list (11 more fleets made by the test)
    await checkpoint('many-fleets');
    await page.locator('#topnav').getByRole('link', { name: 'Fleets' }).click();
    await page.locator('tbody tr').first().waitFor();
    check((await page.locator('tbody tr').count()) === 10, 'first page: 10 fleets');
    const firstPage = await page.locator('tbody').innerText();
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.waitForFunction((t) => document.querySelector('tbody') && document.querySelector('tbody').innerText !== t, firstPage);
    const secondPage = await page.locator('tbody').innerText();
    check((await page.locator('tbody tr').count()) === 2, 'second page: the 2 others');
    check(secondPage.includes('ro-fleet') && !firstPage.includes('ro-fleet'), 'pages differ');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.waitForFunction((t) => document.querySelector('tbody').innerText === t, firstPage).catch(() => check(false, 'previous page'));

    // ---- Phone-sized screen: no horizontal scrolling, navigation reachable
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, '16-phone-fleets');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow <= 0, 'phone: fleets page fits the width (overflow ' + overflow + ')');
    // a reload forgets the key: sign in again, and the deep link is kept
    await signIn(page, F.admin[0], F.admin[1], BASE + '/console/#/fleets/getting-started/domains');
    await expectText(page.locator('main h1'), 'Domains', 'deep link kept through sign-in');
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow2 <= 0, 'phone: domains page fits the width (overflow ' + overflow2 + ')');
    await shot(page, '17-phone-domains');
    await page.setViewportSize({ width: 1280, height: 900 });

    // ---- Keyboard: Tab reaches the fleet nav links and Enter follows them
    await page.locator('nav.side a').first().focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expectText(page.locator('main h1'), 'Identity provider', 'keyboard navigation');

    // ---- Delete the fleet (cancel once, then confirm)
    await page.locator('#topnav').getByRole('link', { name: 'Fleets' }).click();
    await page.getByLabel('Fleets per page').selectOption('25'); // 12 fleets now: one page
    await row(page, 'getting-started').waitFor();
    await page.getByRole('radio', { name: 'Select getting-started' }).check();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Cancel' }).click();
    check((await page.locator('dialog[open]').count()) === 0, 'cancel closes the dialog');
    await expectText(row(page, 'getting-started'), 'ACTIVE', 'cancelled: fleet still ACTIVE');
    await page.getByRole('radio', { name: 'Select getting-started' }).check();
    await page.getByRole('button', { name: 'Delete' }).click();
    await shot(page, '18-delete-confirmation');
    await page.locator('dialog[open]').getByRole('button', { name: 'Delete fleet' }).click();
    await expectText(row(page, 'getting-started'), /DELET/, 'fleet DELETING/DELETED shown');
    await checkpoint('deleted');

    // ---- A read-only principal sees no mutating controls
    const ro = await newPage();
    await signIn(ro, F.readonly[0], F.readonly[1]);
    await expectText(ro.locator('#who'), 'read-only', 'read-only badge');
    await ro.locator('tbody tr').first().waitFor();
    for (const name of ['Create fleet', 'Delete'])
        check((await ro.getByRole('button', { name, exact: true }).count()) === 0, `read-only: no ${name} button`);
    await ro.goto(BASE + '/console/#/fleets/ro-fleet/domains');
    await ro.locator('main h1').filter({ hasText: 'Domains' }).waitFor();
    for (const name of ['Revoke', 'Restore', 'Disassociate', 'Associate domain', 'Import certificate'])
        check((await ro.getByRole('button', { name, exact: true }).count()) === 0, `read-only: no ${name} button`);
    await expectText(row(ro, 'ro.example.com'), 'ACTIVE', 'read-only: domains listed');
    await shot(ro, '19-read-only-domains');
    await ro.goto(BASE + '/console/#/fleets/ro-fleet');
    await ro.locator('main h1').filter({ hasText: 'ro-fleet' }).waitFor();
    check((await ro.locator('form').count()) === 0, 'read-only: no forms on the fleet page');
} catch (e) {
    check(false, 'browser run: ' + (e && e.stack ? e.stack : e));
}
check(leaks.length === 0, 'no request carries a secret: ' + JSON.stringify(leaks.slice(0, 5)));
check(pageErrors.length === 0, 'no script errors or CSP violations: ' + JSON.stringify(pageErrors.slice(0, 5)));
await browser.close();
console.log(`DONE ${checks} ${failures}`);
process.exit(failures ? 1 : 0);
