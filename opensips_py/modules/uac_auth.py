"""uac_auth: the credential store that uac's uac_auth() (and b2b) answer challenges with."""
from __future__ import annotations

from opensips_py.modules.exports import ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="uac_auth",
    doc="Credentials for upstream authentication; no script functions (load_uac_auth is an API).",
    params=(
        ModParam(
            "credential", ParamType.STR, None, repeatable=True,
            doc="\"user:realm:password\"; the password may be 0x + 32 hex digits of HA1.",
        ),
        ModParam("auth_username_avp", ParamType.STR, None, doc="All three AVPs or none."),
        ModParam("auth_realm_avp", ParamType.STR, None),
        ModParam("auth_password_avp", ParamType.STR, None),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/uac_auth/{uac_auth,auth}.c of OpenSIPS 3.2–4.0: the credential list, the AVP
# credentials, do_uac_auth() and build_authorization_hdr(). uac's uac_auth() (and b2b) call this API.

from dataclasses import dataclass  # noqa: E402

from opensips_py.modules import _auth_nonce as nonces  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.sip import SIPParseError  # noqa: E402
from opensips_py.sip.digest import ALGORITHMS, Challenge, calc_ha1, calc_response, parse_challenge  # noqa: E402

_HEX_LEN = {"MD5": 32, "MD5-sess": 32, "SHA-256": 64, "SHA-256-sess": 64, "SHA-512-256": 64,
            "SHA-512-256-sess": 64}


@dataclass(frozen=True)
class UacCredential:
    """One `user:realm:password` (the password may be `0x` + the HA1 in lower-case hex)."""

    user: str
    realm: str
    password: str


def parse_credential(text: str) -> UacCredential:
    """add_credential(): `user : realm : password`, blanks allowed around the colons, none inside."""
    parts = [p.strip() for p in text.split(":", 2)]
    if len(parts) != 3 or not all(parts) or any(any(c.isspace() for c in p) for p in parts):
        raise ValueError(f"parse error in <{text}>")
    return UacCredential(*parts)


def core_hash(text: str) -> int:
    """hash_func.h core_hash(s, NULL, 0): the number uac_auth writes as its cnonce (signed chars, as C's
    `char` on x86)."""
    data = [b - 256 if b > 127 else b for b in text.encode("utf-8", "surrogateescape")]
    mask = 0xFFFFFFFF
    h = 0
    i = 0
    while i + 4 <= len(data):
        v = ((data[i] << 24) + (data[i + 1] << 16) + (data[i + 2] << 8) + data[i + 3]) & mask
        h = (h + (v ^ (v >> 3))) & mask
        i += 4
    v = 0
    for byte in data[i:]:
        v = ((v << 8) + byte) & mask
    h = (h + (v ^ (v >> 3))) & mask
    return ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & mask


class Module(ModuleBase):
    """The credentials the proxy answers upstream challenges with, and the Authorization it builds."""

    exports = EXPORTS

    def init(self) -> None:
        self.credentials: list[UacCredential] = []
        for value in self.param_values("credential"):
            try:
                # the C pushes each new credential at the head of its list: the last one wins a realm
                self.credentials.insert(0, parse_credential(str(value)))
            except ValueError as exc:
                raise ModuleInitError(f"uac_auth: {exc}") from exc
        names = [self.param(n) for n in ("auth_username_avp", "auth_realm_avp", "auth_password_avp")]
        if any(names) and not all(names):
            raise ModuleInitError("uac_auth: partial definition of auth AVP!")
        self.avps = tuple(self._avp_name(str(n)) for n in names) if all(names) else None

    @staticmethod
    def _avp_name(text: str) -> str:
        if not (text.startswith("$avp(") and text.endswith(")")) or len(text) <= 6:
            raise ModuleInitError(f"uac_auth: malformed or non AVP {text} AVP definition")
        return text[5:-1]

    # ---------------------------------------------------------------------------------- the API
    def lookup_realm(self, ctx, realm: str) -> UacCredential | None:
        """lookup_realm(): the AVP credentials first (when their realm matches exactly), then the list."""
        if self.avps is not None and ctx is not None:
            user_avp, realm_avp, password_avp = self.avps
            values = [ctx.avps.get(name, [None])[0] for name in (realm_avp, user_avp, password_avp)]
            if all(isinstance(v, str) and v for v in values) and values[0] == realm:
                return UacCredential(values[1], values[0], values[2])
        for credential in self.credentials:
            if credential.realm == realm:
                return credential
        return None

    @staticmethod
    def pick_challenge(reply, algorithms: set[str] | None = None) -> Challenge | None:
        """The first Digest challenge of a 401/407 with an algorithm we compute (and in `algorithms`)."""
        name = "WWW-Authenticate" if reply.status == 401 else "Proxy-Authenticate"
        for value in reply.header_values(name):
            try:
                challenge = parse_challenge(value)
            except SIPParseError:
                continue
            algorithm = _canonical(challenge.algorithm)
            if not challenge.is_digest or algorithm is None:
                continue
            if algorithms is None or algorithm in algorithms:
                return challenge
        return None

    def authorization(self, code: int, challenge: Challenge, credential: UacCredential, method: str, uri: str,
                      body: bytes = b"") -> str:
        """do_uac_auth() + build_authorization_hdr(): the whole header line answering `challenge`.

        qop: auth when offered, else auth-int when offered (nc 00000001, cnonce = core_hash(nonce)); the
        algorithm is always written; a password of `0x` + the HA1 in lower-case hex is used as HA1."""
        algorithm = _canonical(challenge.algorithm) or "MD5"
        nonce = challenge.nonce or ""
        options = [q.lower() for q in challenge.qop_options]
        qop = "auth" if "auth" in options else "auth-int" if "auth-int" in options else None
        password = credential.password
        stored = password[2:] if len(password) == _HEX_LEN[algorithm] + 2 and password.startswith("0x") and \
            all(c in "0123456789abcdef" for c in password[2:]) else None
        cnonce = str(core_hash(nonce)) if qop else ""
        ha1 = calc_ha1(credential.user, credential.realm, password, algorithm, nonce=nonce, cnonce=cnonce,
                       ha1=stored)
        response = calc_response(ha1, nonce, method, uri, algorithm=algorithm, qop=qop, nc="00000001" if qop else "",
                                 cnonce=cnonce, body=body)
        name = "Authorization" if code == 401 else "Proxy-Authorization"
        parts = [f'{name}: Digest username="{credential.user}"', f'realm="{credential.realm}"',
                 f'nonce="{nonce}"', f'uri="{uri}"']
        if challenge.opaque:
            parts.append(f'opaque="{challenge.opaque}"')
        if qop:
            parts.append(f'qop={qop}, nc=00000001, cnonce="{cnonce}"')
        parts += [f'response="{response}"', f"algorithm={algorithm}"]
        return ", ".join(parts)


def _canonical(algorithm: str) -> str | None:
    """An algorithm name as OpenSIPS prints it (MD5, SHA-256-sess…), or None when we cannot compute it."""
    number = nonces.parse_algorithm(algorithm)
    name = nonces.ALGORITHM_NAMES.get(nonces.ALG_MD5 if number == nonces.ALG_UNSPEC else number)
    return name if name in ALGORITHMS else None
