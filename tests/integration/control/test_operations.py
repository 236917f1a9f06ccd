"""Every operation of the worklink 2018-09-25 model and the ACM subset, through the real AWS CLI
(/usr/bin/aws) against worklink-control and a real redis-server: outputs, state changes by the
reconciler, pagination tokens, concurrent CreateFleet, DeleteFleet cleanup (checked in Redis),
device records written the way the gateway writes them, not-found and already-exists paths."""
import base64
import concurrent.futures
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import wl_testlib as t

ACCOUNT = "123456789012"
c = t.Checker()
d = t.tmpdir()
redis_proc, redis_url = t.start_redis()
key_file = t.write_key_file(d)
creds = t.write_credentials(d, [("admin", "AKIDADMIN00000000001", "adminsecret", ACCOUNT, "full")])
port = t.free_port()
control = t.start([t.binary("worklink-control"), "--listen", "127.0.0.1:%d" % port,
                   "--redis", redis_url, "--credentials", creds, "--key-file", key_file,
                   "--rate-limit", "0", "--fleet-create-delay-ms", "300",
                   "--domain-associate-delay-ms", "300", "--fleet-delete-delay-ms", "4000",
                   "--gateway-url-base", "https://%s.gw.example.net"])

# AWS CLI profile: credentials from the test's files, region us-east-1
aws_creds = os.path.join(d, "aws-credentials")
with open(aws_creds, "w") as f:
    f.write("[default]\naws_access_key_id = AKIDADMIN00000000001\n"
            "aws_secret_access_key = adminsecret\n")
aws_config = os.path.join(d, "aws-config")
with open(aws_config, "w") as f:
    f.write("[default]\nregion = us-east-1\n")
ENV = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=aws_creds, AWS_CONFIG_FILE=aws_config,
           AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
ENV.pop("AWS_ACCESS_KEY_ID", None)
ENV.pop("AWS_SECRET_ACCESS_KEY", None)
ENV.pop("AWS_PROFILE", None)
ENDPOINT = "http://127.0.0.1:%d" % port


def aws(*args):
    """Runs /usr/bin/aws; returns (ok, parsed JSON output or None, stderr)."""
    p = subprocess.run(["/usr/bin/aws"] + list(args) + ["--endpoint-url", ENDPOINT,
                                                       "--output", "json"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    out = None
    if p.returncode == 0 and p.stdout.strip():
        out = json.loads(p.stdout)
    return p.returncode == 0, out, p.stderr


def ok(what, *args):
    good, out, err = aws(*args)
    c.ok(good, "%s: %s" % (what, err.strip()))
    return out if out is not None else {}


def fails(what, error, *args):
    """Expects the call to fail with `error` printed by the CLI."""
    good, out, err = aws(*args)
    c.ok(not good and error in err, "%s: want %s, got ok=%s %s" % (what, error, good,
                                                                   err.strip()[:300]))
    return err


def poll(what, fn, want, timeout=20):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = fn()
        if got == want:
            break
        time.sleep(0.2)
    c.eq(got, want, what)


def redis(*args):
    return t.redis_cmd(redis_url, *args)


t.stand_in_gateways(redis_url)  # no gateway process here: fleets turn ACTIVE on its beats


def arn(name):
    return "arn:aws:worklink::%s:fleet/%s" % (ACCOUNT, name)


def wl(op, *args):
    return ("worklink", op) + args


# ---- certificates (made with openssl) ----
ca = t.make_ca(d, "Corp CA")
leaf = t.make_cert(d, ca, "example.com", sans=("example.com", "*.example.com"))
other = t.make_cert(d, ca, "other.example.org", ec=False)
stray_key = t.make_cert(d, ca, "stray.example.com")[1]
device_ca = t.make_ca(d, "Device CA")

# ---- ACM subset ----
imp = ok("import-certificate", "acm", "import-certificate", "--certificate", "fileb://" + leaf[0],
         "--private-key", "fileb://" + leaf[1], "--certificate-chain", "fileb://" + ca[0],
         "--tags", "Key=env,Value=test")
cert_arn = imp.get("CertificateArn", "")
c.ok(cert_arn.startswith("arn:aws:acm:us-east-1:%s:certificate/" % ACCOUNT), "cert ARN " + cert_arn)
cert2_arn = ok("import-certificate (RSA)", "acm", "import-certificate", "--certificate",
               "fileb://" + other[0], "--private-key", "fileb://" + other[1]).get("CertificateArn")
fails("import with a key of another certificate", "ValidationException", "acm",
      "import-certificate", "--certificate", "fileb://" + leaf[0], "--private-key",
      "fileb://" + stray_key)
desc = ok("describe-certificate", "acm", "describe-certificate", "--certificate-arn",
          cert_arn).get("Certificate", {})
c.eq(desc.get("DomainName"), "example.com", "DomainName")
c.eq(sorted(desc.get("SubjectAlternativeNames", [])), ["*.example.com", "example.com"], "SANs")
c.eq(desc.get("Type"), "IMPORTED", "Type")
c.eq(desc.get("Status"), "ISSUED", "Status")
c.eq(desc.get("KeyAlgorithm"), "EC_prime256v1", "KeyAlgorithm")
c.eq(desc.get("InUseBy"), [], "InUseBy before use")
c.ok("NotBefore" in desc and "NotAfter" in desc, "NotBefore/NotAfter present")
desc2 = ok("describe RSA certificate", "acm", "describe-certificate", "--certificate-arn",
           cert2_arn).get("Certificate", {})
c.eq(desc2.get("KeyAlgorithm"), "RSA_2048", "RSA KeyAlgorithm")
got = ok("get-certificate", "acm", "get-certificate", "--certificate-arn", cert_arn)
with open(leaf[0]) as f:
    leaf_pem = f.read()
c.eq(got.get("Certificate", "").strip(), leaf_pem.strip(), "GetCertificate returns the certificate")
c.ok("BEGIN CERTIFICATE" in got.get("CertificateChain", ""), "GetCertificate returns the chain")
c.ok("PRIVATE KEY" not in json.dumps(got), "GetCertificate never returns the key")
sealed = redis("HGET", "wl:acm:cert:" + cert_arn.rsplit("/", 1)[1], "key")
c.ok("wlenv1:" in sealed and "PRIVATE" not in sealed, "key sealed at rest")
lst = ok("list-certificates", "acm", "list-certificates")
c.eq(sorted(s["CertificateArn"] for s in lst.get("CertificateSummaryList", [])),
     sorted([cert_arn, cert2_arn]), "ListCertificates")
lst = ok("list-certificates --max-items 1", "acm", "list-certificates", "--max-items", "1")
c.eq(len(lst.get("CertificateSummaryList", [])), 1, "--max-items 1: one certificate")
c.ok("NextToken" in lst, "--max-items 1: NextToken")
lst2 = ok("list-certificates --starting-token", "acm", "list-certificates", "--max-items", "1",
          "--starting-token", lst.get("NextToken", "x"))
c.eq(len(lst2.get("CertificateSummaryList", [])), 1, "second page")
c.ok(lst2.get("CertificateSummaryList", [{}])[0].get("CertificateArn") !=
     lst.get("CertificateSummaryList", [{}])[0].get("CertificateArn"), "pages differ")
lst = ok("list-certificates --page-size 1", "acm", "list-certificates", "--page-size", "1")
c.eq(len(lst.get("CertificateSummaryList", [])), 2, "--page-size 1 follows the tokens")
fails("describe unknown certificate", "ResourceNotFoundException", "acm", "describe-certificate",
      "--certificate-arn",
      "arn:aws:acm:us-east-1:%s:certificate/00000000-0000-4000-8000-000000000000" % ACCOUNT)

# ---- fleets ----
out = ok("create-fleet", *wl("create-fleet", "--fleet-name", "corp", "--display-name", "Corp",
                             "--tags", "team=infra"))
c.eq(out.get("FleetArn"), arn("corp"), "CreateFleet FleetArn")
fails("create-fleet again", "ResourceAlreadyExistsException",
      *wl("create-fleet", "--fleet-name", "corp"))
meta = ok("describe-fleet-metadata", *wl("describe-fleet-metadata", "--fleet-arn", arn("corp")))
c.ok(meta.get("FleetStatus") in ("CREATING", "ACTIVE"), "new fleet CREATING")
code = meta.get("CompanyCode", "")
c.ok(code.isalnum() and len(code) >= 6, "CompanyCode alphanumeric: " + code)
c.eq(meta.get("Tags"), {"team": "infra"}, "fleet tags")
c.eq(meta.get("DisplayName"), "Corp", "DisplayName")
poll("fleet becomes ACTIVE", lambda: aws(*wl("describe-fleet-metadata", "--fleet-arn",
                                             arn("corp")))[1].get("FleetStatus"), "ACTIVE")
ok("update-fleet-metadata", *wl("update-fleet-metadata", "--fleet-arn", arn("corp"),
                                "--display-name", "Corporate", "--optimize-for-end-user-location"))
meta = ok("describe after update", *wl("describe-fleet-metadata", "--fleet-arn", arn("corp")))
c.eq(meta.get("DisplayName"), "Corporate", "updated DisplayName")
c.eq(meta.get("OptimizeForEndUserLocation"), True, "updated OptimizeForEndUserLocation")
fails("describe unknown fleet", "ResourceNotFoundException",
      *wl("describe-fleet-metadata", "--fleet-arn", arn("nosuch")))

# concurrent CreateFleet of one name: exactly one wins
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    results = list(ex.map(lambda i: aws(*wl("create-fleet", "--fleet-name", "race")), range(8)))
wins = sum(1 for r in results if r[0])
c.eq(wins, 1, "concurrent CreateFleet winners")
c.eq(sum(1 for r in results if "ResourceAlreadyExistsException" in r[2]), 7,
     "concurrent CreateFleet losers get ResourceAlreadyExistsException")

# pagination: corp, f-a, f-b, f-c, race
for n in ("f-a", "f-b", "f-c"):
    ok("create " + n, *wl("create-fleet", "--fleet-name", n))
page = ok("list-fleets --max-results 2", *wl("list-fleets", "--max-results", "2"))
names = [s["FleetName"] for s in page.get("FleetSummaryList", [])]
c.eq(names, ["corp", "f-a"], "first page")
token = page.get("NextToken")
c.ok(bool(token), "first page NextToken")
c.eq(page.get("FleetSummaryList", [{}])[0].get("FleetArn"), arn("corp"), "summary FleetArn")
# f-b removed and f-aa added between pages: the next page starts right after f-a
ok("delete f-b", *wl("delete-fleet", "--fleet-arn", arn("f-b")))
redis("ZREM", "wl:account:%s:fleets" % ACCOUNT, "f-b")  # as if purged already
ok("create f-aa", *wl("create-fleet", "--fleet-name", "f-aa"))
page = ok("list-fleets --next-token", *wl("list-fleets", "--max-results", "2", "--next-token",
                                          token or "x"))
c.eq([s["FleetName"] for s in page.get("FleetSummaryList", [])], ["f-aa", "f-c"], "second page")
page = ok("list-fleets last page", *wl("list-fleets", "--max-results", "2", "--next-token",
                                       page.get("NextToken", "x")))
c.eq([s["FleetName"] for s in page.get("FleetSummaryList", [])], ["race"], "last page")
c.ok("NextToken" not in page, "no NextToken on the last page")
fails("invalid NextToken", "InvalidRequestException",
      *wl("list-fleets", "--next-token", "bm90LWEtdG9rZW4"))
bad = (token or "AAAA")[:-2] + ("AA" if not (token or "").endswith("AA") else "BB")
fails("tampered NextToken", "InvalidRequestException", *wl("list-fleets", "--next-token", bad))

# ---- domains ----
fails("domain not covered by the certificate", "InvalidRequestException",
      *wl("associate-domain", "--fleet-arn", arn("corp"), "--domain-name", "wiki.example.org",
          "--acm-certificate-arn", cert_arn))
fails("wildcard covers one label only", "InvalidRequestException",
      *wl("associate-domain", "--fleet-arn", arn("corp"), "--domain-name", "a.b.example.com",
          "--acm-certificate-arn", cert_arn))
fails("unknown certificate", "ResourceNotFoundException",
      *wl("associate-domain", "--fleet-arn", arn("corp"), "--domain-name", "wiki.example.com",
          "--acm-certificate-arn",
          "arn:aws:acm:us-east-1:%s:certificate/00000000-0000-4000-8000-000000000000" % ACCOUNT))
ok("associate-domain", *wl("associate-domain", "--fleet-arn", arn("corp"), "--domain-name",
                           "wiki.example.com", "--display-name", "Wiki",
                           "--acm-certificate-arn", cert_arn))
ok("associate-domain apex", *wl("associate-domain", "--fleet-arn", arn("corp"), "--domain-name",
                                "example.com", "--acm-certificate-arn", cert_arn))
fails("associate-domain twice", "ResourceAlreadyExistsException",
      *wl("associate-domain", "--fleet-arn", arn("corp"), "--domain-name", "wiki.example.com",
          "--acm-certificate-arn", cert_arn))
dom = ok("describe-domain", *wl("describe-domain", "--fleet-arn", arn("corp"), "--domain-name",
                                "wiki.example.com"))
c.eq(dom.get("AcmCertificateArn"), cert_arn, "domain certificate")
c.eq(dom.get("DisplayName"), "Wiki", "domain DisplayName")
c.ok(dom.get("DomainStatus") in ("ASSOCIATING", "ACTIVE"), "new domain ASSOCIATING")
poll("domain becomes ACTIVE", lambda: aws(*wl("describe-domain", "--fleet-arn", arn("corp"),
                                              "--domain-name", "wiki.example.com"))[1]
     .get("DomainStatus"), "ACTIVE")
ok("update-domain-metadata", *wl("update-domain-metadata", "--fleet-arn", arn("corp"),
                                 "--domain-name", "wiki.example.com", "--display-name", "The Wiki"))
doms = ok("list-domains", *wl("list-domains", "--fleet-arn", arn("corp"), "--max-results", "1"))
c.eq([x["DomainName"] for x in doms.get("Domains", [])], ["example.com"], "list-domains page 1")
doms = ok("list-domains page 2", *wl("list-domains", "--fleet-arn", arn("corp"), "--max-results",
                                     "1", "--next-token", doms.get("NextToken", "x")))
c.eq([(x["DomainName"], x.get("DisplayName")) for x in doms.get("Domains", [])],
     [("wiki.example.com", "The Wiki")], "list-domains page 2")
ok("revoke-domain-access", *wl("revoke-domain-access", "--fleet-arn", arn("corp"),
                               "--domain-name", "wiki.example.com"))
c.eq(aws(*wl("describe-domain", "--fleet-arn", arn("corp"), "--domain-name",
             "wiki.example.com"))[1].get("DomainStatus"), "INACTIVE", "revoked domain INACTIVE")
fails("revoke an INACTIVE domain", "InvalidRequestException",
      *wl("revoke-domain-access", "--fleet-arn", arn("corp"), "--domain-name", "wiki.example.com"))
ok("restore-domain-access", *wl("restore-domain-access", "--fleet-arn", arn("corp"),
                                "--domain-name", "wiki.example.com"))
fails("restore an ACTIVE domain", "InvalidRequestException",
      *wl("restore-domain-access", "--fleet-arn", arn("corp"), "--domain-name",
          "wiki.example.com"))
c.eq(aws(*wl("describe-domain", "--fleet-arn", arn("corp"), "--domain-name",
             "wiki.example.com"))[1].get("DomainStatus"), "ACTIVE", "restored domain ACTIVE")
fails("describe unknown domain", "ResourceNotFoundException",
      *wl("describe-domain", "--fleet-arn", arn("corp"), "--domain-name", "nope.example.com"))
fails("delete a certificate in use", "ResourceInUseException", "acm", "delete-certificate",
      "--certificate-arn", cert_arn)
desc = ok("describe in-use certificate", "acm", "describe-certificate", "--certificate-arn",
          cert_arn).get("Certificate", {})
c.eq(desc.get("InUseBy"), [arn("corp")], "InUseBy")
ok("disassociate-domain apex", *wl("disassociate-domain", "--fleet-arn", arn("corp"),
                                   "--domain-name", "example.com"))
doms = ok("list-domains after disassociate", *wl("list-domains", "--fleet-arn", arn("corp")))
c.eq([x["DomainName"] for x in doms.get("Domains", [])], ["wiki.example.com"],
     "disassociated domain gone")
fails("disassociate unknown domain", "ResourceNotFoundException",
      *wl("disassociate-domain", "--fleet-arn", arn("corp"), "--domain-name", "example.com"))

# ---- website certificate authorities ----
fake = "-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"not a certificate" * 4).decode()[:64] \
       + "\nAAAA\n-----END CERTIFICATE-----\n"
fails("CA that is not X.509", "InvalidRequestException",
      *wl("associate-website-certificate-authority", "--fleet-arn", arn("corp"), "--certificate",
          fake))
with open(ca[0]) as f:
    ca_pem = f.read()
out = ok("associate-website-certificate-authority",
         *wl("associate-website-certificate-authority", "--fleet-arn", arn("corp"),
             "--certificate", ca_pem, "--display-name", "Corp CA"))
ca_id = out.get("WebsiteCaId", "")
c.ok(ca_id and all(ch.isalnum() or ch in "-_" for ch in ca_id), "WebsiteCaId URL-safe: " + ca_id)
with open(device_ca[0]) as f:
    dca_pem = f.read()
ca2 = ok("second CA", *wl("associate-website-certificate-authority", "--fleet-arn", arn("corp"),
                          "--certificate", dca_pem)).get("WebsiteCaId", "")
c.ok(ca2 != ca_id, "CA ids unique")
fails("same CA twice", "ResourceAlreadyExistsException",
      *wl("associate-website-certificate-authority", "--fleet-arn", arn("corp"), "--certificate",
          ca_pem))
out = ok("describe-website-certificate-authority",
         *wl("describe-website-certificate-authority", "--fleet-arn", arn("corp"),
             "--website-ca-id", ca_id))
c.eq(out.get("Certificate"), ca_pem, "CA certificate")
c.eq(out.get("DisplayName"), "Corp CA", "CA DisplayName")
c.ok("CreatedTime" in out, "CA CreatedTime")
cas = ok("list-website-certificate-authorities",
         *wl("list-website-certificate-authorities", "--fleet-arn", arn("corp"), "--max-results",
             "1"))
c.eq(len(cas.get("WebsiteCertificateAuthorities", [])), 1, "CA page of 1")
cas2 = ok("list CAs page 2", *wl("list-website-certificate-authorities", "--fleet-arn",
                                 arn("corp"), "--next-token", cas.get("NextToken", "x")))
c.eq(sorted(x["WebsiteCaId"] for x in cas.get("WebsiteCertificateAuthorities", []) +
            cas2.get("WebsiteCertificateAuthorities", [])), sorted([ca_id, ca2]), "all CAs listed")
ok("disassociate-website-certificate-authority",
   *wl("disassociate-website-certificate-authority", "--fleet-arn", arn("corp"), "--website-ca-id",
       ca2))
fails("describe disassociated CA", "ResourceNotFoundException",
      *wl("describe-website-certificate-authority", "--fleet-arn", arn("corp"), "--website-ca-id",
          ca2))

# ---- device policy ----
ok("update-device-policy-configuration",
   *wl("update-device-policy-configuration", "--fleet-arn", arn("corp"), "--device-ca-certificate",
       dca_pem + ca_pem))
out = ok("describe-device-policy-configuration",
         *wl("describe-device-policy-configuration", "--fleet-arn", arn("corp")))
c.eq(out.get("DeviceCaCertificate"), dca_pem + ca_pem, "device CA chain stored")
fails("device CA that is not X.509", "InvalidRequestException",
      *wl("update-device-policy-configuration", "--fleet-arn", arn("corp"),
          "--device-ca-certificate", fake))
ok("remove device policy", *wl("update-device-policy-configuration", "--fleet-arn", arn("corp")))
out = ok("describe removed device policy",
         *wl("describe-device-policy-configuration", "--fleet-arn", arn("corp")))
c.ok("DeviceCaCertificate" not in out, "device policy removed")

# ---- identity provider ----
idp_signing = t.make_ca(d, "IdP signing")
with open(idp_signing[0]) as f:
    IDP_CERT_B64 = "".join(l.strip() for l in f if "-----" not in l)
IDP = ('<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
       ' xmlns:ds="http://www.w3.org/2000/09/xmldsig#"'
       ' entityID="https://idp.example.com/saml"><md:IDPSSODescriptor '
       'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
       '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>' +
       IDP_CERT_B64 + '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
       '<md:SingleSignOnService '
       'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
       'Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>\n')
NO_KEY_IDP = IDP.replace(IDP[IDP.index("<md:KeyDescriptor"):IDP.index("</md:KeyDescriptor>") +
                             len("</md:KeyDescriptor>")], "")
err = fails("IdP metadata without a signing certificate", "InvalidRequestException",
            *wl("update-identity-provider-configuration", "--fleet-arn", arn("corp"),
                "--identity-provider-type", "SAML", "--identity-provider-saml-metadata",
                NO_KEY_IDP))
c.ok("IdentityProviderSamlMetadata" in err and "certificate" in err,
     "message names the member and the missing certificate: %r" % err[-300:])
fails("IdP metadata that is not XML", "InvalidRequestException",
      *wl("update-identity-provider-configuration", "--fleet-arn", arn("corp"),
          "--identity-provider-type", "SAML", "--identity-provider-saml-metadata", "not <xml"))
err = fails("IdP metadata without IDPSSODescriptor", "InvalidRequestException",
            *wl("update-identity-provider-configuration", "--fleet-arn", arn("corp"),
                "--identity-provider-type", "SAML", "--identity-provider-saml-metadata",
                "<x:a xmlns:x='urn:x'/>"))
c.ok("IdentityProviderSamlMetadata: IdP metadata" in err, "message names the member and says why: %r" % err[-300:])
ok("update-identity-provider-configuration",
   *wl("update-identity-provider-configuration", "--fleet-arn", arn("corp"),
       "--identity-provider-type", "SAML", "--identity-provider-saml-metadata", IDP))
out = ok("describe-identity-provider-configuration",
         *wl("describe-identity-provider-configuration", "--fleet-arn", arn("corp")))
c.eq(out.get("IdentityProviderType"), "SAML", "IdentityProviderType")
c.eq(out.get("IdentityProviderSamlMetadata"), IDP, "IdP metadata stored")
sp = out.get("ServiceProviderSamlMetadata", "")
c.ok('entityID="https://corp.gw.example.net/saml/metadata"' in sp, "SP entityID")
c.ok("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" in sp and
     'Location="https://corp.gw.example.net/saml/acs"' in sp, "SP ACS (HTTP-POST)")
c.ok("X509Certificate>" in sp and 'use="signing"' in sp, "SP signing certificate")
# the metadata is well-formed and its certificate parses
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
try:
    root = ET.fromstring(sp.encode())
except ET.ParseError as e:
    root = None
    c.ok(False, "SP metadata well-formed: %s" % e)
if root is not None:
    c.eq(root.tag, MD + "EntityDescriptor", "SP metadata root")
    acs = root.find(MD + "SPSSODescriptor/" + MD + "AssertionConsumerService")
    c.eq(acs.get("Location") if acs is not None else None, "https://corp.gw.example.net/saml/acs",
         "SP metadata ACS element")
b64 = sp.split("X509Certificate>")[1].split("<")[0]
der = os.path.join(d, "sp.der")
with open(der, "wb") as f:
    f.write(base64.b64decode(b64))
c.eq(subprocess.run(["openssl", "x509", "-inform", "DER", "-in", der, "-noout"],
                    capture_output=True).returncode, 0, "SP certificate parses")
c.ok("wlenv1:" in redis("HGET", "wl:{corp}:fleet", "sp_key"), "SP key sealed at rest")

# ---- company network ----
ok("update-company-network-configuration",
   *wl("update-company-network-configuration", "--fleet-arn", arn("corp"), "--vpc-id",
       "vpc-0123abcd", "--subnet-ids", "subnet-0123abcd", "subnet-0123abce",
       "--security-group-ids", "sg-0123abcd"))
out = ok("describe-company-network-configuration",
         *wl("describe-company-network-configuration", "--fleet-arn", arn("corp")))
c.eq(out, {"VpcId": "vpc-0123abcd", "SubnetIds": ["subnet-0123abcd", "subnet-0123abce"],
           "SecurityGroupIds": ["sg-0123abcd"]}, "network configuration")

# ---- audit stream ----
STREAM = "arn:aws:kinesis:us-east-1:%s:stream/AmazonWorkLink-corp" % ACCOUNT
ok("update-audit-stream-configuration", *wl("update-audit-stream-configuration", "--fleet-arn",
                                            arn("corp"), "--audit-stream-arn", STREAM))
out = ok("describe-audit-stream-configuration",
         *wl("describe-audit-stream-configuration", "--fleet-arn", arn("corp")))
c.eq(out.get("AuditStreamArn"), STREAM, "AuditStreamArn")
ok("turn the audit stream off", *wl("update-audit-stream-configuration", "--fleet-arn",
                                    arn("corp")))
out = ok("describe audit off", *wl("describe-audit-stream-configuration", "--fleet-arn",
                                   arn("corp")))
c.ok("AuditStreamArn" not in out, "audit stream removed")

# ---- website authorization providers ----
out = ok("associate-website-authorization-provider",
         *wl("associate-website-authorization-provider", "--fleet-arn", arn("corp"),
             "--authorization-provider-type", "SAML", "--domain-name", "wiki.example.com"))
ap_id = out.get("AuthorizationProviderId", "")
c.ok(ap_id and all(ch.isalnum() or ch in "-_" for ch in ap_id), "provider id URL-safe")
fails("provider for the same domain", "ResourceAlreadyExistsException",
      *wl("associate-website-authorization-provider", "--fleet-arn", arn("corp"),
          "--authorization-provider-type", "SAML", "--domain-name", "wiki.example.com"))
aps = ok("list-website-authorization-providers",
         *wl("list-website-authorization-providers", "--fleet-arn", arn("corp")))
lst = aps.get("WebsiteAuthorizationProviders", [])
c.eq([(x.get("AuthorizationProviderId"), x.get("AuthorizationProviderType"), x.get("DomainName"))
      for x in lst], [(ap_id, "SAML", "wiki.example.com")], "providers listed")
ok("disassociate-website-authorization-provider",
   *wl("disassociate-website-authorization-provider", "--fleet-arn", arn("corp"),
       "--authorization-provider-id", ap_id))
fails("disassociate unknown provider", "ResourceNotFoundException",
      *wl("disassociate-website-authorization-provider", "--fleet-arn", arn("corp"),
          "--authorization-provider-id", ap_id))

# ---- tags ----
ok("tag-resource", *wl("tag-resource", "--resource-arn", arn("corp"), "--tags", "env=prod,cost=42"))
out = ok("list-tags-for-resource", *wl("list-tags-for-resource", "--resource-arn", arn("corp")))
c.eq(out.get("Tags"), {"team": "infra", "env": "prod", "cost": "42"}, "tags after TagResource")
ok("untag-resource", *wl("untag-resource", "--resource-arn", arn("corp"), "--tag-keys", "env",
                         "cost"))
out = ok("list tags after untag", *wl("list-tags-for-resource", "--resource-arn", arn("corp")))
c.eq(out.get("Tags"), {"team": "infra"}, "tags after UntagResource")
many = ",".join("k%02d=v" % i for i in range(50))
fails("more than 50 tags in all", "InvalidRequestException",
      *wl("tag-resource", "--resource-arn", arn("corp"), "--tags", many))
fails("tags of an unknown fleet", "InvalidRequestException",
      *wl("list-tags-for-resource", "--resource-arn", arn("nosuch")))

# ---- devices and sessions, written the way the gateway writes them ----
now_ms = int(time.time() * 1000)
for dev, user in (("dev-1", "alice"), ("dev-2", "alice"), ("dev-3", "bob")):
    redis("HSET", "wl:{corp}:device:" + dev, "id", dev, "status", "ACTIVE", "manufacturer",
          "Apple", "model", "iPhone15,2", "os", "iOS", "os_version", "17.1", "patch_level",
          "2026-11-01", "username", user, "first_accessed", now_ms - 60000, "last_accessed", now_ms)
    redis("ZADD", "wl:{corp}:devices", 0, dev)
    redis("SADD", "wl:{corp}:user:%s:devices" % user, dev)
    sid = ("%064x" % (hash(dev) & (2 ** 256 - 1)))[-64:]
    redis("HSET", "wl:{corp}:session:" + sid, "username", user, "device_id", dev, "created",
          now_ms, "expires", now_ms + 3600000, "idle_timeout_ms", 900000, "last_seen", now_ms)
    redis("SADD", "wl:{corp}:user:%s:sessions" % user, sid)
    redis("SET", "wl:{corp}:jar:" + sid, "WLJAR1")
devs = ok("list-devices", *wl("list-devices", "--fleet-arn", arn("corp"), "--max-results", "2"))
page2 = ok("list-devices page 2", *wl("list-devices", "--fleet-arn", arn("corp"), "--next-token",
                                      devs.get("NextToken", "x")))
c.eq([(x["DeviceId"], x["DeviceStatus"]) for x in devs.get("Devices", []) +
      page2.get("Devices", [])],
     [("dev-1", "ACTIVE"), ("dev-2", "ACTIVE"), ("dev-3", "ACTIVE")], "devices listed")
dev = ok("describe-device", *wl("describe-device", "--fleet-arn", arn("corp"), "--device-id",
                                "dev-1"))
c.eq((dev.get("Status"), dev.get("Manufacturer"), dev.get("Model"), dev.get("OperatingSystem"),
      dev.get("OperatingSystemVersion"), dev.get("PatchLevel"), dev.get("Username")),
     ("ACTIVE", "Apple", "iPhone15,2", "iOS", "17.1", "2026-11-01", "alice"), "device record")
c.ok("FirstAccessedTime" in dev and "LastAccessedTime" in dev, "device access times")
fails("describe unknown device", "ResourceNotFoundException",
      *wl("describe-device", "--fleet-arn", arn("corp"), "--device-id", "nope"))
# a subscriber sees the sign-out on the fleet's channel
sub = subprocess.Popen(["redis-cli", "-u", redis_url, "SUBSCRIBE", "wl:{corp}:events"],
                       stdout=subprocess.PIPE, text=True)
time.sleep(0.3)
ok("sign-out-user", *wl("sign-out-user", "--fleet-arn", arn("corp"), "--username", "alice"))
time.sleep(0.3)
sub.terminate()
events = sub.communicate(timeout=5)[0]
c.ok('"kind":"user"' in events and '"op":"signout"' in events and '"id":"alice"' in events,
     "sign-out published: " + events[-200:])
c.eq(redis("SCARD", "wl:{corp}:user:alice:sessions").strip(), "(integer) 0", "alice's sessions gone")
c.eq(redis("KEYS", "wl:{corp}:session:*").count("session:"), 1, "bob's session stays")
c.eq(redis("KEYS", "wl:{corp}:jar:*").count("jar:"), 1, "alice's cookie jars gone, bob's stays")
c.eq(aws(*wl("describe-device", "--fleet-arn", arn("corp"), "--device-id", "dev-2"))[1]
     .get("Status"), "SIGNED_OUT", "alice's device SIGNED_OUT")
c.eq(aws(*wl("describe-device", "--fleet-arn", arn("corp"), "--device-id", "dev-3"))[1]
     .get("Status"), "ACTIVE", "bob's device still ACTIVE")
ok("sign-out-user without sessions", *wl("sign-out-user", "--fleet-arn", arn("corp"),
                                         "--username", "nobody"))
v1 = int(redis("GET", "wl:{corp}:version").split()[-1].strip('"'))
c.ok(v1 > 10, "every change bumped the fleet version (%d)" % v1)

# ---- DeleteFleet removes everything ----
ok("delete-fleet", *wl("delete-fleet", "--fleet-arn", arn("corp")))
meta = ok("describe deleting fleet", *wl("describe-fleet-metadata", "--fleet-arn", arn("corp")))
c.ok(meta.get("FleetStatus") in ("DELETING", "DELETED"), "fleet DELETING")
fails("delete-fleet again", "InvalidRequestException", *wl("delete-fleet", "--fleet-arn",
                                                           arn("corp")))
c.eq(redis("EXISTS", "wl:companycode:" + code).strip(), "(integer) 0", "company code freed")
poll("fleet becomes DELETED or disappears",
     lambda: (aws(*wl("describe-fleet-metadata", "--fleet-arn", arn("corp")))[1] or {})
     .get("FleetStatus", "GONE") in ("DELETED", "GONE"), True)
poll("fleet is purged", lambda: aws(*wl("describe-fleet-metadata", "--fleet-arn",
                                        arn("corp")))[0], False)
c.eq(redis("KEYS", "wl:{corp}:*").split(), ["1)", '"wl:{corp}:version"'],
     "only the version counter is left in Redis")
c.ok("corp" not in redis("ZRANGE", "wl:fleets", 0, -1), "fleet gone from wl:fleets")
c.ok("corp" not in [s["FleetName"] for s in ok("list-fleets", *wl("list-fleets"))
                    .get("FleetSummaryList", [])], "fleet gone from ListFleets")
ok("delete-certificate once free", "acm", "delete-certificate", "--certificate-arn", cert_arn)
fails("deleted certificate", "ResourceNotFoundException", "acm", "describe-certificate",
      "--certificate-arn", cert_arn)
ok("create-fleet with the freed name", *wl("create-fleet", "--fleet-name", "corp"))

c.done()
