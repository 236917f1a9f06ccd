"""A SAML 2.0 identity provider for tests, built on Debian's python3-pysaml2 (a real IdP
implementation this project did not write). It signs with the xmlsec1 backend.

IdP(dir, sp_metadata_xml, key, cert) writes its config into dir; .metadata() returns the IdP
metadata XML to upload; .parse_redirect(url) checks an AuthnRequest sent by HTTP-Redirect
(signature verified against the SP certificate of the SP metadata); .response(...) returns a
signed Response (XML text); .sign(xml, node) re-signs a (modified) Response or Assertion with the
IdP key, which is how the negative fixtures get a valid signature over bad content.
"""
import base64
import os
import re
import urllib.parse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

IDP_ENTITY = "https://idp.example.test/idp"
IDP_SSO = "https://idp.example.test/sso"
ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
RESPONSE_NS = "urn:oasis:names:tc:SAML:2.0:protocol:Response"
AUTHN = {"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
         "authn_auth": IDP_ENTITY}


class IdP:
    def __init__(self, d, sp_metadata, key, cert, entity_id=IDP_ENTITY, want_signed=True):
        self.dir = d
        self.key = key
        self.cert = cert
        sp_md = os.path.join(d, "sp_metadata_%s.xml" % os.path.basename(key))
        with open(sp_md, "w") as f:
            f.write(sp_metadata)
        conf = {
            "entityid": entity_id,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": key,
            "cert_file": cert,
            "metadata": {"local": [sp_md]},
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(IDP_SSO, BINDING_HTTP_REDIRECT)]},
                "want_authn_requests_signed": want_signed,
                "policy": {"default": {"lifetime": {"minutes": 5},
                                       "attribute_restrictions": None,
                                       "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            }},
            "delete_tmpfiles": True,
        }
        self.config = IdPConfig().load(conf)
        self.server = Server(config=self.config)
        self._metadata = create_metadata_string(None, config=self.config, sign=False).decode()
        # pysaml2 looks for an XML signature inside the AuthnRequest even for the Redirect
        # binding, whose signature travels in the query string: parse_redirect verifies that
        # one with pysaml2's verify_redirect_signature, then parses with the flag off.
        self.config.setattr("idp", "want_authn_requests_signed", False)

    def metadata(self):
        return self._metadata

    def parse_redirect(self, url, sp_cert_pem):
        """Verifies and parses an HTTP-Redirect AuthnRequest; returns the AuthnRequest object."""
        q = urllib.parse.urlsplit(url).query
        msg = {k: v[0] for k, v in urllib.parse.parse_qs(q, strict_parsing=True).items()}
        body = "".join(l for l in sp_cert_pem.splitlines() if "-----" not in l)
        if not verify_redirect_signature(msg, self.server.sec.sec_backend, cert=body):
            raise ValueError("redirect signature does not verify")
        req = self.server.parse_authn_request(msg["SAMLRequest"], BINDING_HTTP_REDIRECT)
        return req.message, msg

    def response(self, in_response_to, acs, sp_entity, user="alice@example.com",
                 sign_assertion=True, sign_response=False, sign_alg=SIG_RSA_SHA256,
                 digest_alg=DIGEST_SHA256, identity=None, session_not_on_or_after=None):
        identity = identity if identity is not None else {
            "mail": [user], "givenName": ["Alice"], "memberOf": ["staff", "wiki-editors"]}
        name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user)
        resp = self.server.create_authn_response(
            identity, in_response_to, acs, sp_entity, name_id=name_id, authn=AUTHN,
            sign_assertion=sign_assertion, sign_response=sign_response,
            sign_alg=sign_alg, digest_alg=digest_alg,
            session_not_on_or_after=session_not_on_or_after)
        return str(resp)

    def sign(self, xml, node, node_id):
        """Re-signs the element (Assertion or Response) with ID node_id, whose ds:Signature
        template is already in xml (as create_authn_response left it)."""
        ns = ASSERTION_NS if node == "Assertion" else RESPONSE_NS
        return self.server.sec.sign_statement(xml, ns, node_id=node_id)


def b64(xml):
    return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()


def assertion_id(xml):
    return re.search(r'<(?:\w+:)?Assertion\b[^>]* ID="([^"]+)"', xml).group(1)


def response_id(xml):
    return re.search(r'<(?:\w+:)?Response\b[^>]* ID="([^"]+)"', xml).group(1)
