"""TLS domains (tls_mgm): certificate sets, how a connection picks one, and the stdlib ssl contexts they give.

A domain is declared by `server_domain`/`client_domain` and configured by per-domain params written
"[name]value". Matching follows tls_mgm/tls_domain.c:
- every domain is filed under each of its `match_ip_address` entries ("ip:port", or "*");
- a connection looks up its address (the local one for server domains, the peer's for client domains): an
  exact "ip:port" entry wins, else the "*" entry; only that entry's domains are considered;
- within the entry the domains are tried by their `match_sip_domain` patterns (fnmatch, case-insensitive):
  exact names first, then patterns with "*", then "*" itself; the first pattern matching wins;
- a server connection starts with the entry's first domain; the client's SNI name (or "none" when the client
  sent none) then picks the domain again, and the certificate switches (tls_sni_cb). No match: fatal alert;
- a client connection matches the SIP domain "*" (the client_sip_domain_avp / client_tls_domain_avp overrides
  are not honoured: outgoing sends carry no script context here).

Settings map to Python's ssl (modules/tls_openssl/openssl_config.c):
- tls_method: SSLv23 (alias TLSany) leaves the versions to the ssl module's defaults; TLSv1, TLSv1_2, TLSv1_3
  pin one version; "A-B", "A-", "-B" are ranges (minimum_version / maximum_version);
- verify_cert/require_cert: a server domain asks for a client certificate when verify_cert is 1 and fails the
  handshake without one when require_cert is 1 too; a client domain verifies the server's chain when
  verify_cert is 1. Like OpenSIPS, the host name in the certificate is not checked;
- ca_list (file) and ca_dir (directory, when it exists) are the trust anchors; a client domain that verifies
  but names neither uses the system's store; crl_dir adds CRLs (the leaf only, the whole chain with
  crl_check_all); ciphers_list, dh_params and ec_curve as OpenSSL reads them.
"""
from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

MATCH_ANY = "*"
MATCH_NO_SNI = "none"  # the SNI value matched when the client sent no server name (tls_domain.h)

# tls_method names (openssl_config.c ssl_versions_struct); SSLv23/TLSany = whatever the library negotiates
_VERSIONS = {"tlsv1": ssl.TLSVersion.TLSv1, "tlsv1_2": ssl.TLSVersion.TLSv1_2, "tlsv1_3": ssl.TLSVersion.TLSv1_3}
_ANY_VERSION = ("sslv23", "tlsany")
_PREFIXED_RE = re.compile(r"^\[([^\]]*)\](.*)$", re.S)

PER_DOMAIN_PARAMS = ("match_ip_address", "match_sip_domain", "tls_method", "verify_cert", "require_cert",
                     "certificate", "private_key", "crl_check_all", "crl_dir", "ca_list", "ca_dir",
                     "ciphers_list", "dh_params", "ec_curve")


class DomainError(Exception):
    """A domain setting tls_mgm refuses (unknown domain, bad method, unreadable certificate…)."""


@dataclass
class TLSDomain:
    """One tls_mgm domain with OpenSIPS's defaults (tls_config.c)."""

    name: str
    server: bool
    match_addresses: list[str] = field(default_factory=lambda: [MATCH_ANY])
    match_domains: list[str] = field(default_factory=lambda: [MATCH_ANY])
    tls_method: str = "SSLv23"
    verify_cert: bool = True
    require_cert: bool = True
    certificate: str | None = None
    private_key: str | None = None
    crl_check_all: bool = False
    crl_dir: str | None = None
    ca_list: str | None = None
    ca_dir: str | None = None
    ciphers_list: str | None = None
    dh_params: str | None = None
    ec_curve: str | None = None
    context: ssl.SSLContext | None = None

    @property
    def kind(self) -> str:
        return "server" if self.server else "client"


# ------------------------------------------------------------------------------------------------ parsing

def _flag(text: str, name: str, domain: str) -> bool:
    value = text.strip()
    if value in ("0", "1"):
        return value == "1"
    raise DomainError(f"tls_mgm: {name} of domain '{domain}' must be 0 or 1, not {text!r}")


def normalize_address(text: str) -> str:
    """ "ip:port" as tls_mgm files it (ip_addr2a form, IPv6 without brackets), or "*"."""
    text = text.strip()
    if text.startswith(MATCH_ANY):
        return MATCH_ANY
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise DomainError(f"tls_mgm: address {text!r} must be written IP:port")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError as exc:
        raise DomainError(f"tls_mgm: {host!r} is not an IP address") from exc
    return f"{ip}:{int(port)}"


def address_key(ip: str, port: int) -> str:
    try:
        return f"{ipaddress.ip_address(ip.strip('[]'))}:{port}"
    except ValueError:
        return f"{ip}:{port}"


def parse_domains(params: dict[str, list[Any]], default_certificate: str, default_private_key: str
                  ) -> list[TLSDomain]:
    """The domains declared by tls_mgm's modparams, in declaration order (server domains first).

    As in OpenSIPS a per-domain value must name a declared domain ("[name]value"), or start-up fails."""
    domains: dict[tuple[str, bool], TLSDomain] = {}
    by_name: dict[str, list[TLSDomain]] = {}
    for param, server in (("server_domain", True), ("client_domain", False)):
        for value in params.get(param, []):
            name = str(value).strip()
            if not name:
                raise DomainError(f"tls_mgm: empty {param} name")
            if (name, server) in domains:
                raise DomainError(f"tls_mgm: {param} '{name}' declared twice")
            domain = TLSDomain(name, server)
            domains[(name, server)] = domain
            by_name.setdefault(name, []).append(domain)
    for param in PER_DOMAIN_PARAMS:
        for value in params.get(param, []):
            match = _PREFIXED_RE.match(str(value))
            if match is None:
                raise DomainError(f'tls_mgm: {param} "{value}" names no domain: write "[domain]{value}"')
            name, text = match.group(1), match.group(2)
            targets = by_name.get(name)
            if not targets:
                raise DomainError(f"tls_mgm: {param} for domain '{name}', which no server_domain or "
                                  "client_domain declares")
            for domain in targets:
                _apply(domain, param, text)
    for domain in domains.values():
        if domain.server:
            domain.certificate = domain.certificate or default_certificate
            domain.private_key = domain.private_key or default_private_key
        elif domain.certificate and not domain.private_key:
            domain.private_key = default_private_key
        tls_versions(domain.tls_method)  # refuse a bad method at start-up, not at the first connection
    return sorted(domains.values(), key=lambda d: not d.server)


def _apply(domain: TLSDomain, param: str, text: str) -> None:
    if param == "match_ip_address":
        domain.match_addresses = [normalize_address(item) for item in text.split(",") if item.strip()] \
            or [MATCH_ANY]
        if MATCH_ANY in domain.match_addresses:  # "*" anywhere first: the domain matches any address
            domain.match_addresses = [MATCH_ANY]
    elif param == "match_sip_domain":
        domain.match_domains = [item.strip() for item in text.split(",") if item.strip()] or [MATCH_ANY]
    elif param in ("verify_cert", "require_cert", "crl_check_all"):
        setattr(domain, param, _flag(text, param, domain.name))
    elif param == "tls_method":
        domain.tls_method = text.strip()
    else:
        setattr(domain, param, text.strip() or None)


def tls_versions(method: str) -> tuple[ssl.TLSVersion | None, ssl.TLSVersion | None]:
    """(minimum, maximum) for a tls_method value; None = the ssl module's default (tls_get_method)."""
    text = method.strip()
    low, dash, high = text.partition("-")

    def one(name: str, default: ssl.TLSVersion | None) -> ssl.TLSVersion | None:
        name = name.strip().lower()
        if not name:
            return default
        if name in _ANY_VERSION:
            return None
        if name not in _VERSIONS:
            raise DomainError(f"tls_mgm: unsupported tls_method {method!r} (SSLv23, TLSv1, TLSv1_2, TLSv1_3 "
                              "or a range such as TLSv1_2-TLSv1_3)")
        return _VERSIONS[name]

    minimum = one(low, ssl.TLSVersion.TLSv1)
    if not dash:
        return minimum, minimum
    return minimum, one(high, ssl.TLSVersion.TLSv1_3)


# ------------------------------------------------------------------------------------------------ contexts

def build_context(domain: TLSDomain) -> ssl.SSLContext:
    """The ssl context of one domain (DomainError when a file cannot be loaded)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if domain.server else ssl.PROTOCOL_TLS_CLIENT)
    where = f"tls_mgm: {domain.kind} domain '{domain.name}'"
    minimum, maximum = tls_versions(domain.tls_method)
    try:
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
        if domain.ciphers_list:
            ctx.set_ciphers(domain.ciphers_list)
        if domain.ec_curve:
            ctx.set_ecdh_curve(domain.ec_curve)
    except (ssl.SSLError, ValueError) as exc:
        raise DomainError(f"{where}: {exc}") from exc
    if domain.dh_params and os.path.exists(domain.dh_params):
        try:
            ctx.load_dh_params(domain.dh_params)
        except (ssl.SSLError, OSError) as exc:
            raise DomainError(f"{where}: cannot load dh_params {domain.dh_params}: {exc}") from exc
    if domain.certificate:
        try:
            ctx.load_cert_chain(domain.certificate, domain.private_key)
        except (ssl.SSLError, OSError) as exc:
            raise DomainError(f"{where}: cannot load certificate {domain.certificate} with private key "
                              f"{domain.private_key}: {exc}") from exc
    _load_trust(ctx, domain, where)
    if domain.server:
        ctx.verify_mode = (ssl.CERT_REQUIRED if domain.require_cert else ssl.CERT_OPTIONAL) \
            if domain.verify_cert else ssl.CERT_NONE
    else:
        ctx.check_hostname = False  # OpenSIPS verifies the chain only (SSL_VERIFY_PEER), never the name
        ctx.verify_mode = ssl.CERT_REQUIRED if domain.verify_cert else ssl.CERT_NONE
    return ctx


def _load_trust(ctx: ssl.SSLContext, domain: TLSDomain, where: str) -> None:
    loaded = False
    try:
        if domain.ca_list:
            ctx.load_verify_locations(cafile=domain.ca_list)
            loaded = True
        if domain.ca_dir and os.path.isdir(domain.ca_dir):
            ctx.load_verify_locations(capath=domain.ca_dir)
            loaded = True
        if domain.crl_dir:
            ctx.load_verify_locations(capath=domain.crl_dir)
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN if domain.crl_check_all else ssl.VERIFY_CRL_CHECK_LEAF
    except (ssl.SSLError, OSError) as exc:
        raise DomainError(f"{where}: cannot load the CA list: {exc}") from exc
    if not loaded and domain.verify_cert and not domain.server:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)


# ------------------------------------------------------------------------------------------------ matching

def _filter_rank(pattern: str) -> int:
    """tls_domain.c compare_dom_filters: exact names, then wildcard patterns, then "*"."""
    if pattern == MATCH_ANY:
        return 2
    return 1 if MATCH_ANY in pattern else 0


class DomainTable:
    """The matching maps of tls_mgm: address entry -> [(sip domain pattern, domain)], most specific first."""

    def __init__(self, domains: Iterable[TLSDomain],
                 on_unknown_name: Callable[[str, int, str | None], None] | None = None) -> None:
        self.domains = list(domains)
        self.on_unknown_name = on_unknown_name
        self._maps: dict[bool, dict[str, list[tuple[str, TLSDomain]]]] = {True: {}, False: {}}
        self._server_contexts: dict[str, ssl.SSLContext | None] = {}
        for domain in self.domains:
            entries = self._maps[domain.server]
            for address in domain.match_addresses:
                filters = entries.setdefault(address, [])
                for pattern in domain.match_domains:
                    if not any(existing == pattern for existing, _ in filters):
                        filters.append((pattern, domain))
        for entries in self._maps.values():
            for filters in entries.values():
                filters.sort(key=lambda item: _filter_rank(item[0]))  # stable: declaration order otherwise

    def _entry(self, server: bool, ip: str, port: int) -> list[tuple[str, TLSDomain]] | None:
        entries = self._maps[server]
        return entries.get(address_key(ip, port)) or entries.get(MATCH_ANY)

    def server_domain(self, ip: str, port: int) -> TLSDomain | None:
        """The domain a connection accepted on ip:port starts with (tls_find_server_domain)."""
        entry = self._entry(True, ip, port)
        return entry[0][1] if entry else None

    def find(self, server: bool, ip: str, port: int, sip_domain: str) -> TLSDomain | None:
        """tls_find_domain_by_filters: the address entry, then the first pattern matching `sip_domain`."""
        entry = self._entry(server, ip, port)
        if not entry:
            return None
        name = sip_domain.lower()
        for pattern, domain in entry:
            if fnmatch.fnmatchcase(name, pattern.lower()):
                return domain
        return None

    def client_domain(self, ip: str, port: int) -> TLSDomain | None:
        """The domain of a connection we open to ip:port (tls_find_client_domain without the AVPs)."""
        return self.find(False, ip, port, MATCH_ANY)

    def server_context(self, ip: str, port: int) -> ssl.SSLContext | None:
        """The context to accept with on local address ip:port (None: no server domain matches it).

        It is the first matching server domain's settings, with an SNI callback that switches to the domain
        the client's server name selects (tls_sni_cb). One context per local address, made once: the
        callback has to know the address it serves, and an SSLObject does not tell it."""
        key = address_key(ip, port)
        if key in self._server_contexts:
            return self._server_contexts[key]
        first = self.server_domain(ip, port)
        ctx = None
        if first is not None and first.context is not None:
            ctx = build_context(first)
            ctx.sni_callback = self._sni_callback(ip, port, first)
        self._server_contexts[key] = ctx
        return ctx

    def _sni_callback(self, ip: str, port: int, first: TLSDomain):
        def sni(ssl_object: ssl.SSLObject, server_name: str | None, _initial: ssl.SSLContext) -> int | None:
            chosen = self.find(True, ip, port, server_name if server_name else MATCH_NO_SNI)
            if chosen is None or chosen.context is None:
                if self.on_unknown_name is not None:
                    self.on_unknown_name(ip, port, server_name)
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            if chosen is not first:
                ssl_object.context = chosen.context  # the certificate follows; the verify mode stays
            return None

        return sni
