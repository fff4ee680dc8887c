"""tls_mgm: TLS domains (certificate sets) for proto_tls/proto_wss, and the TLS pseudo-variables."""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar,
)

# Values of per-domain params name their domain first: "[dom]value" (3.2 through 4.0). The domain must have
# been declared before by server_domain/client_domain; a missing or unknown prefix aborts start-up.
_PER_DOMAIN = 'Per-domain: the value is "[domain]value" (3.2–4.0; the domain must be declared first by ' \
              "server_domain/client_domain; without the prefix OpenSIPS fails to start)."


def _per_domain(name: str, doc: str, default: str | int | None = None) -> ModParam:
    """A per-domain param: repeatable (one setting per domain), value prefixed by "[domain]"."""
    return ModParam(name, ParamType.STR, default, repeatable=True, doc=f"{doc} {_PER_DOMAIN}")


def _cert_pvars() -> tuple[PseudoVar, ...]:
    """$tls_{peer,my}_… : fields of the peer's and our own certificate."""
    names = []
    for side in ("peer", "my"):
        names += [f"tls_{side}_{field}" for field in ("version", "serial", "subject", "issuer")]
        names += [f"tls_{side}_{part}_{field}" for part in ("subject", "issuer")
                  for field in ("cn", "locality", "country", "state", "organization", "unit")]
        names.append(f"tls_{side}_subject_serial")
        names += [f"tls_{side}_san_{kind}" for kind in ("email", "hostname", "uri", "ip")]
    names += [f"tls_peer_{state}" for state in
              ("verified", "revoked", "expired", "selfsigned", "notBefore", "notAfter")]
    return tuple(PseudoVar(name) for name in names)


EXPORTS = ModuleExports(
    name="tls_mgm",
    doc="Declares TLS domains (server domains matched by local socket and SNI, client domains matched by "
        "destination and SIP domain), each with its certificate, key, CA list, method and verification "
        "policy; from the script or from a `tls_mgm` table. The TLS library itself is a separate module "
        "(tls_openssl or tls_wolfssl) that must be loaded too.",
    functions=(
        Function("is_peer_verified", (), routes=R,
                 doc="1 if the request came over TLS and the peer's certificate verified, else -1."),
    ),
    params=(
        ModParam("tls_library", ParamType.STR, "auto",
                 doc='"auto" (whichever of tls_openssl/tls_wolfssl is loaded; both loaded is an error), '
                     '"openssl", "wolfssl" or "none".'),
        ModParam("server_domain", ParamType.STR, repeatable=True,
                 doc="Declare a server TLS domain by name (used on accepted connections)."),
        ModParam("client_domain", ParamType.STR, repeatable=True,
                 doc="Declare a client TLS domain by name (used on connections we open)."),
        _per_domain("match_ip_address", 'Comma list of "ip:port" the domain matches; "*" any.', "*"),
        _per_domain("match_sip_domain", 'Comma list of SIP domains (SNI for server domains; wildcards; '
                                        '"none" = no SNI); "*" any.', "*"),
        _per_domain("tls_method", 'SSLv23 (negotiate), TLSv1, TLSv1_2, TLSv1_3, or a range "A-B", "A-", "-B".',
                    "SSLv23"),
        _per_domain("verify_cert", "Verify the peer's certificate (0/1).", "1"),
        _per_domain("require_cert", "Server domains: require a client certificate (0/1).", "1"),
        _per_domain("certificate", "Certificate file (PEM).", "CFG_DIR/tls/cert.pem"),
        _per_domain("private_key", "Private key file (PEM).", "CFG_DIR/tls/ckey.pem"),
        _per_domain("crl_check_all", "Check every certificate of the chain against CRLs, not only the leaf "
                                     "(0/1).", "0"),
        _per_domain("crl_dir", "Directory of certificate revocation lists."),
        _per_domain("ca_list", "File of trusted CA certificates."),
        _per_domain("ca_dir", "Directory of trusted CA certificates.", "/etc/pki/CA/"),
        _per_domain("ciphers_list", "Cipher list in the TLS library's syntax (not `tls_ciphers`)."),
        _per_domain("dh_params", "Diffie-Hellman parameters file."),
        _per_domain("ec_curve", "Elliptic curve for ECDHE."),
        ModParam("client_tls_domain_avp", ParamType.STR,
                 doc="AVP naming the client domain to use, bypassing matching."),
        ModParam("client_sip_domain_avp", ParamType.STR,
                 doc="AVP holding the SIP domain client-domain matching uses."),
        ModParam("db_url", ParamType.STR, doc="Load domains from a database too."),
        ModParam("db_table", ParamType.STR, "tls_mgm"),
        ModParam("domain_col", ParamType.STR, "domain"),
        ModParam("match_ip_address_col", ParamType.STR, "match_ip_address"),
        ModParam("match_sip_domain_col", ParamType.STR, "match_sip_domain"),
        ModParam("tls_method_col", ParamType.STR, "method"),
        ModParam("verify_cert_col", ParamType.STR, "verify_cert"),
        ModParam("require_cert_col", ParamType.STR, "require_cert"),
        ModParam("certificate_col", ParamType.STR, "certificate"),
        ModParam("private_key_col", ParamType.STR, "private_key"),
        ModParam("crl_check_all_col", ParamType.STR, "crl_check_all"),
        ModParam("crl_dir_col", ParamType.STR, "crl_dir"),
        ModParam("ca_list_col", ParamType.STR, "ca_list"),
        ModParam("ca_dir_col", ParamType.STR, "ca_dir"),
        ModParam("ciphers_list_col", ParamType.STR, "cipher_list"),
        ModParam("dh_params_col", ParamType.STR, "dh_params"),
        ModParam("ec_curve_col", ParamType.STR, "ec_curve"),
    ),
    pvars=(
        PseudoVar("tls_version", doc="Protocol version of the TLS connection the message came on."),
        PseudoVar("tls_description", doc="The library's description of the session."),
        PseudoVar("tls_cipher_info", doc="Name of the negotiated cipher."),
        PseudoVar("tls_cipher_bits", doc="Key bits of the negotiated cipher."),
    ) + _cert_pvars(),
    mi=(
        MICommand("tls_reload", (), alias_4_0="tls_mgm:reload", doc="Reload the domains from the database."),
        MICommand("tls_list", (), alias_4_0="tls_mgm:list", doc="List the domains and their settings."),
    ),
    deps=(
        Dependency(("tls_openssl", "tls_wolfssl"),
                   doc='Not declared (DEP_SILENT), but mod_init fails without one of them unless tls_library '
                       'is "none"; with tls_library "auto", loading both is an error too.'),
        Dependency(("db_*",), when_param="db_url"),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

import os  # noqa: E402
import ssl  # noqa: E402

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.transport.selfsigned import DEFAULT_NAME, CertificateError, generate_self_signed  # noqa: E402
from opensips_py.transport.tls_domains import (  # noqa: E402
    MATCH_ANY, DomainError, DomainTable, TLSDomain, address_key, build_context, parse_domains,
)

TLS_LIBRARIES = ("tls_openssl", "tls_wolfssl")
SECURE_PROTOCOLS = ("tls", "wss")
_WILDCARDS = ("0.0.0.0", "::")


class Module(ModuleBase):
    """The TLS domains, their ssl contexts, and the choice of one per connection (docs/runtime.md, "TLS,
    WebSocket"). The live host asks `server_context(local ip, port)` when it accepts a TLS connection and
    `client_context(peer ip, port)` when it opens one.

    A server domain whose certificate and private key files are both missing gets a self-signed pair there
    (a line in the log says so); one file without the other, or an unreadable one, refuses start-up."""

    exports = EXPORTS

    def init(self) -> None:
        self.table = DomainTable([])
        library = str(self.param("tls_library")).lower()
        loaded = _loaded_modules(self.core)
        if library == "none":
            return
        if library not in ("auto", "openssl", "wolfssl"):
            raise ModuleInitError(f'tls_mgm: unknown tls_library "{library}" (auto, openssl, wolfssl, none)')
        if library == "auto" and not any(name in loaded for name in TLS_LIBRARIES):
            raise ModuleInitError('tls_mgm: no TLS library module loaded: add loadmodule "tls_openssl.so" '
                                  '(or set tls_library to "none")')
        if library == "auto" and all(name in loaded for name in TLS_LIBRARIES):
            raise ModuleInitError("tls_mgm: both tls_openssl and tls_wolfssl are loaded: keep one, or name it "
                                  "with tls_library")
        if self.param("db_url"):
            raise ModuleInitError("tls_mgm: domains from a database (db_url) are not loaded by opensips-py yet: "
                                  "declare them with server_domain/client_domain")
        cfg_dir = _config_dir(self.core)
        try:
            domains = parse_domains(self.params, os.path.join(cfg_dir, "tls", "cert.pem"),
                                    os.path.join(cfg_dir, "tls", "ckey.pem"))
            for domain in domains:
                if domain.server:
                    self._ensure_files(domain)
                domain.context = build_context(domain)
        except (DomainError, CertificateError) as exc:
            raise ModuleInitError(str(exc)) from exc
        self.table = DomainTable(domains, self._unknown_server_name)
        for sock in self.core.sockets:
            if sock.proto in SECURE_PROTOCOLS and not self._has_server_domain(sock):
                self.core.logger.error(f"no TLS server domain matches {sock}: its connections will be refused "
                                       '(declare one, e.g. server_domain "default" with match_ip_address '
                                       '"[default]*")', "tls_mgm")

    # ---------------------------------------------------------------------------------- for the live host
    def server_context(self, ip: str, port: int) -> ssl.SSLContext | None:
        """The context for a connection accepted on local address ip:port (None: refuse it)."""
        return self.table.server_context(ip, port)

    def client_context(self, ip: str, port: int) -> ssl.SSLContext | None:
        """The context for a connection we open to ip:port (None: no client domain, do not connect)."""
        domain = self.table.client_domain(ip, port)
        return domain.context if domain is not None else None

    # ---------------------------------------------------------------------------------- start-up
    def _ensure_files(self, domain: TLSDomain) -> None:
        cert, key = domain.certificate, domain.private_key
        assert cert is not None and key is not None
        has_cert, has_key = os.path.exists(cert), os.path.exists(key)
        if has_cert and has_key:
            return
        if has_cert or has_key:
            present, missing = (cert, key) if has_cert else (key, cert)
            raise ModuleInitError(f"tls_mgm: server domain '{domain.name}': {present} exists but {missing} "
                                  "does not; opensips-py generates a self-signed pair only when both are missing")
        try:
            made = generate_self_signed(cert, key, self._certificate_name(domain))
        except CertificateError as exc:
            raise ModuleInitError(f"tls_mgm: server domain '{domain.name}' has no certificate and none can be made: "
                                  f"{exc} (point its certificate/private_key elsewhere, or give the files)") from exc
        self.core.logger.notice(f"server domain '{domain.name}': no certificate at {cert}, generated a self-signed "
                                f"one for {made.name} (key {key}, valid until {made.not_after:%Y-%m-%d}); "
                                "replace it with a real certificate for clients that verify", "tls_mgm")

    def _certificate_name(self, domain: TLSDomain) -> str:
        """The host of the first TLS/WSS socket the domain serves, or "opensips-py" for a wildcard one."""
        for sock in self.core.sockets:
            if sock.proto not in SECURE_PROTOCOLS:
                continue
            if MATCH_ANY in domain.match_addresses or address_key(sock.host, sock.port) in domain.match_addresses:
                return DEFAULT_NAME if sock.host in _WILDCARDS else sock.host
        return DEFAULT_NAME

    def _has_server_domain(self, sock) -> bool:
        if sock.host not in _WILDCARDS:
            return self.table.server_domain(sock.host, sock.port) is not None
        return any(d.server and (MATCH_ANY in d.match_addresses or
                                 any(a.endswith(f":{sock.port}") for a in d.match_addresses))
                   for d in self.table.domains)

    def _unknown_server_name(self, ip: str, port: int, server_name: str | None) -> None:
        self.core.logger.info(f"no TLS server domain on {ip}:{port} matches the client's server name "
                              f"{server_name or '(none)'}: handshake refused", "tls_mgm")


def _loaded_modules(core) -> list[str]:
    from opensips_py.runtime.modules import loaded_modules
    return loaded_modules(core.config)


def _config_dir(core) -> str:
    """OpenSIPS's CFG_DIR for default file names: the directory of the config file (the current directory
    for a config given as text)."""
    for stmt in core.config.statements:
        path = getattr(getattr(stmt, "pos", None), "file", None)
        if path and not path.startswith("<"):
            return os.path.dirname(os.path.abspath(path))
    return os.getcwd()
