"""auth: digest authentication framework (RFC 8760/7616): challenges, nonces, credential checks."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, R, Arg, Dependency, Function, ModParam, ModuleExports, ParamType,
)

QOP_TYPES = ("auth", "auth-int")
# Digest algorithms (lib/digest_auth dauth_fixup_algorithms; an algorithm missing from the build is rejected).
DIGEST_ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess")

_CHALLENGE_ARGS = (
    Arg("realm"),
    Arg("qop", optional=True, choices=QOP_TYPES),
    Arg("algorithms", optional=True, choices=DIGEST_ALGORITHMS),
)

EXPORTS = ModuleExports(
    name="auth",
    doc="Digest authentication: challenges (401/407 sent through signaling) and password checks from "
        "script variables; auth_db adds the database-backed checks.",
    functions=(
        Function(
            "www_challenge", _CHALLENGE_ARGS, routes=R,
            doc="Sends 401 and returns 0 (the script stops). realm \"\" = To domain (REGISTER) or From "
                "domain. qop and algorithms are comma lists; C: algorithms exist since 3.2.",
        ),
        Function("proxy_challenge", _CHALLENGE_ARGS, routes=R, doc="Sends 407 and returns 0."),
        Function(
            "pv_www_authorize", (Arg("realm"),), routes=R,
            doc="Password from password_spec. 1 ok; -1 no user; -2 bad password; -3 stale nonce; "
                "-4 no credentials; -5 error.",
        ),
        Function("pv_proxy_authorize", (Arg("realm"),), routes=R),
        Function("consume_credentials", (), routes=R),
        Function("is_rpid_user_e164", (), routes=R),
        Function("append_rpid_hf", (Arg("prefix", optional=True), Arg("suffix", optional=True)), routes=R | F | B),
    ),
    params=(
        ModParam("secret", ParamType.STR, None, doc="Random when unset; 4.0 requires exactly 32 characters."),
        ModParam("nonce_expire", ParamType.INT, 30),
        ModParam("disable_nonce_check", ParamType.INT, 0),
        ModParam("calculate_ha1", ParamType.INT, 0),
        ModParam("realm_prefix", ParamType.STR, ""),
        ModParam("rpid_prefix", ParamType.STR, ""),
        ModParam("rpid_suffix", ParamType.STR, ";party=calling;id-type=subscriber;screen=yes"),
        ModParam("rpid_avp", ParamType.STR, "$avp(rpid)"),
        ModParam("username_spec", ParamType.STR, None),
        ModParam("password_spec", ParamType.STR, None),
    ),
    deps=(
        Dependency(("signaling",), doc="DEP_ABORT: challenges are sent through signaling."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/auth/{auth_mod,api,challenge,common,index,rpid}.c, qop.h,
# lib/digest_auth/dauth_nonce.c and parser/digest/digest{,_parser}.c of OpenSIPS 3.2–4.0 (the module is the
# same in 3.4, 3.6 and 4.0; 3.2's differences are noted where they are).

import enum  # noqa: E402
import hmac  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from opensips_py.modules import _auth_nonce as nonces  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.sip import SIPParseError  # noqa: E402
from opensips_py.sip.digest import ALGORITHMS, Credentials, calc_ha1, calc_response, parse_credentials  # noqa: E402

WWW_AUTH_CODE, PROXY_AUTH_CODE = 401, 407
AUTHORIZATION, PROXY_AUTHORIZATION = "authorization", "proxy-authorization"
AUTH_500_REASON = "Server Internal Error"

# The algorithms a challenge may offer, strongest first (the C walks LAST_ALG_SPTD down to FIRST_ALG_SPTD).
_CHALLENGE_ORDER = (nonces.ALG_SHA512_256SESS, nonces.ALG_SHA512_256, nonces.ALG_SHA256SESS, nonces.ALG_SHA256,
                    nonces.ALG_MD5SESS, nonces.ALG_MD5, nonces.ALG_UNSPEC)
_HASH_HEX_LEN = {nonces.ALG_UNSPEC: 32, nonces.ALG_MD5: 32, nonces.ALG_MD5SESS: 32, nonces.ALG_SHA256: 64,
                 nonces.ALG_SHA256SESS: 64, nonces.ALG_SHA512_256: 64, nonces.ALG_SHA512_256SESS: 64}
# qop.h get_qop_param() of 3.4+: note the two "both" values print the list the other way round
_QOP_PARAM = {nonces.QOP_AUTH: "auth", nonces.QOP_AUTHINT: "auth-int",
              nonces.QOP_AUTHINT_AUTH: "auth,auth-int", nonces.QOP_AUTH_AUTHINT: "auth-int,auth"}


class AuthResult(enum.IntEnum):
    """auth_result_t (modules/auth/api.h): what the authorize functions return to the script."""

    AUTH_ERROR = -5        # error, no reply sent (not returned by auth/auth_db)
    NO_CREDENTIALS = -4    # no credentials for this realm
    STALE_NONCE = -3       # the nonce is not ours, expired, reused, or issued for another qop/algorithm
    INVALID_PASSWORD = -2
    USER_UNKNOWN = -1
    ERROR = 0              # error, a reply (400/500) was sent: the script stops
    AUTHORIZED = 1
    DO_AUTHORIZATION = 2   # pre_auth() only: go on and check the response


def available_algorithm(alg: int) -> bool:
    """get_digest_calc() != NULL: MD5 always, SHA-256 and SHA-512/256 when hashlib has them."""
    if alg == nonces.ALG_UNSPEC:
        return True
    name = nonces.ALGORITHM_NAMES.get(alg)
    return name is not None and name in ALGORITHMS


def parse_challenge_qop(text: str | None) -> int:
    """fixup_qop(): "auth", "auth-int" or a comma list of both (in the order written)."""
    qop = nonces.QOP_UNSPEC
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item == "auth":
            qop = nonces.QOP_AUTHINT_AUTH if qop == nonces.QOP_AUTHINT else nonces.QOP_AUTH
        elif item == "auth-int":
            qop = nonces.QOP_AUTH_AUTHINT if qop == nonces.QOP_AUTH else nonces.QOP_AUTHINT
        else:
            raise ValueError(f"bad qop type {item!r}")
    return qop


def parse_challenge_algorithms(text: str | None) -> set[int]:
    """dauth_fixup_algorithms(): a comma list of algorithm names; none given = MD5 without an algorithm
    parameter (ALG_UNSPEC)."""
    found: set[int] = set()
    for item in (text or "").split(","):
        if not item.strip():
            continue
        alg = nonces.parse_algorithm(item)
        if alg == nonces.ALG_OTHER or not available_algorithm(alg):
            raise ValueError(f"unsupported algorithm type {item.strip()!r}")
        found.add(alg)
    return found or {nonces.ALG_UNSPEC}


@dataclass
class DigestCredentials:
    """The credentials header pre_auth() selected (OpenSIPS marks it "authorized" before checking anything):
    what $Au, consume_credentials(), the next challenge's `stale` and auth_db's checks read."""

    kind: str                  # AUTHORIZATION or PROXY_AUTHORIZATION
    field_index: int           # the header line, for consume_credentials()
    credentials: Credentials
    alg: int
    qop: int
    stale: bool = False

    @property
    def username(self) -> str:
        """The whole username parameter (`user@domain` stays whole: HA1 is computed over it)."""
        return self.credentials.username or ""

    @property
    def user(self) -> str:
        """parse_username(): the part before `@` (names of 2 characters or less are never split)."""
        whole = self.username
        return whole.split("@", 1)[0] if len(whole) > 2 else whole

    @property
    def user_domain(self) -> str:
        whole = self.username
        return whole.split("@", 1)[1] if len(whole) > 2 and "@" in whole else ""

    @property
    def realm(self) -> str:
        """GET_REALM(): the domain part of the username when there is one, else the realm parameter."""
        return self.user_domain or (self.credentials.realm or "")


def selected_credentials(ctx, kind: str | None = None) -> DigestCredentials | None:
    """The credentials pre_auth() selected in this message: of `kind`, or Proxy-Authorization first, then
    Authorization (as get_authorized_cred() is asked by $Au and consume_credentials())."""
    state = ctx.module_state.get("auth")
    if not state:
        return None
    if kind is not None:
        return state.get(kind)
    return state.get(PROXY_AUTHORIZATION) or state.get(AUTHORIZATION)


class Module(ModuleBase):
    """Digest challenges and the authorization steps auth_db shares (the C's bind_auth API): pre_auth(),
    calc_ha1(), check_response(), send_resp()."""

    exports = EXPORTS

    def init(self) -> None:
        self._signaling = getattr(self.core, "modules", {}).get("signaling")
        if self._signaling is None:
            raise ModuleInitError("auth: can't load signaling functions (loadmodule \"signaling.so\")")
        secret = self.param("secret")
        try:
            self.noncer = nonces.Noncer(str(secret).encode("utf-8", "surrogateescape") if secret else None)
        except ValueError as exc:
            raise ModuleInitError(f"auth: {exc}") from exc
        self.nonce_expire = self.int_param("nonce_expire")
        self.disable_nonce_check = bool(self.int_param("disable_nonce_check"))
        self.calculate_ha1 = bool(self.int_param("calculate_ha1"))
        self.realm_prefix = str(self.param("realm_prefix") or "")
        self.rpid_prefix = str(self.param("rpid_prefix") or "")
        self.rpid_suffix = str(self.param("rpid_suffix") or "")
        self.nonce_index = None if self.disable_nonce_check else nonces.NonceIndex(self.nonce_expire)
        self.rpid_avp = self._avp_name(self.param("rpid_avp"), "rpid_avp")
        self._username_spec = self._spec(self.param("username_spec"), "username")
        self._password_spec = self._spec(self.param("password_spec"), "password")

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, "auth")

    # ---------------------------------------------------------------------------------- set-up helpers
    @staticmethod
    def _avp_name(text, what: str) -> str | None:
        """`$avp(name)` -> name; "" or unset -> None (the feature is off)."""
        if not text:
            return None
        from opensips_py.config.pvar import PVarSyntaxError, parse_pvar_token
        try:
            node = parse_pvar_token(str(text)) if str(text).startswith("$") else None
        except PVarSyntaxError:
            node = None
        if node is None or node.name != "avp" or not isinstance(node.arg, str):
            raise ModuleInitError(f"auth: malformed or non AVP {text} AVP definition ({what})")
        return node.arg

    def _spec(self, text, what: str):
        """username_spec/password_spec: a pseudo-variable read per call (compiled once here). Core variables
        ($avp, $var…) first; a module's variable only when the core has no such name."""
        if not text:
            return None
        from opensips_py.config.pvar import PVarSyntaxError, parse_pvar_token
        from opensips_py.script.pvars import CORE_HANDLERS, UnknownPseudoVariable, compile_pvar
        import opensips_py.script.pv_core  # noqa: F401  (registers the core variables)

        def resolve(name: str):
            found = CORE_HANDLERS.get(name)
            for module in getattr(self.core, "modules", {}).values():
                if found is not None:
                    break
                if module is not self:
                    found = module.pvars().get(name)
            return found

        try:
            node = parse_pvar_token(str(text)) if str(text).startswith("$") else None
            if node is None:
                raise PVarSyntaxError(str(text))
            return compile_pvar(node, resolve, lambda transformation: (lambda ctx, value: value))
        except (PVarSyntaxError, UnknownPseudoVariable) as exc:
            raise ModuleInitError(f"auth: failed to parse {what} spec {text!r}") from exc

    # ---------------------------------------------------------------------------------- replies
    def send_resp(self, ctx, code: int, reason: str | None, headers: tuple[str, ...] = ()) -> int:
        """common.c send_resp(): headers become reply lumps (what append_to_reply() fills), then the reply
        goes out through signaling (stateful when tm has a transaction). 1 sent, -1 failed."""
        if headers:
            ctx.module_state.setdefault("sl", {}).setdefault("reply_headers", []).extend(headers)
        return self._signaling.send_reply(ctx, code, reason)

    # ---------------------------------------------------------------------------------- realm
    def realm_of(self, ctx, kind: str) -> str | None:
        """get_realm() + strip_realm(): the To host for a REGISTER's Authorization, else the From host;
        None when that URI cannot be read."""
        msg = ctx.msg
        try:
            if msg.method == "REGISTER" and kind == AUTHORIZATION:
                body = msg.to
            else:
                body = msg.from_
            host = body.uri.host if body is not None else None
        except (SIPParseError, ValueError):
            return None
        if host is None:
            return None
        prefix = self.realm_prefix
        if prefix and len(prefix) <= len(host) and host.startswith(prefix):
            host = host[len(prefix):]
        return host

    # ---------------------------------------------------------------------------------- challenges
    def www_challenge(self, ctx, realm: str, qop: str | None = None, algorithms: str | None = None) -> int:
        return self._challenge(ctx, realm, qop, algorithms, WWW_AUTH_CODE)

    def proxy_challenge(self, ctx, realm: str, qop: str | None = None, algorithms: str | None = None) -> int:
        return self._challenge(ctx, realm, qop, algorithms, PROXY_AUTH_CODE)

    def _challenge(self, ctx, realm: str, qop_text: str | None, algorithms: str | None, code: int) -> int:
        """challenge.c challenge(): one {WWW,Proxy}-Authenticate per algorithm (strongest first), each with
        its own nonce, in a 401/407 sent through signaling. Returns 0 (the script stops) once sent, -1 when
        nothing could be sent."""
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return -1
        try:
            qop = parse_challenge_qop(qop_text)
            algs = parse_challenge_algorithms(algorithms)
        except ValueError as exc:
            self._log(-1, str(exc))
            return -1
        kind = AUTHORIZATION if code == WWW_AUTH_CODE else PROXY_AUTHORIZATION
        selected = selected_credentials(ctx, kind)
        if not realm:
            realm = self.realm_of(ctx, kind)
            if realm is None:
                self._log(-1, "failed to extract URI")
                return 0 if self.send_resp(ctx, 400, "Bad Request") > 0 else -1
        # 3.4+: any explicit algorithm list (the mask compared with ALG_MD5SESS is at least 2) forces
        # qop=auth when none was asked; 3.2 only did so for SHA-256 and above.
        if algs != {nonces.ALG_UNSPEC} and qop == nonces.QOP_UNSPEC:
            qop = nonces.QOP_AUTH
        index = 0
        if self.nonce_index is not None:
            reserved = self.nonce_index.reserve(ctx.now)
            if reserved is None:
                self._log(-1, "no more nonces can be generated")
                return -1
            index = reserved
        header = "WWW-Authenticate" if code == WWW_AUTH_CODE else "Proxy-Authenticate"
        expires = ctx.now + self.nonce_expire
        expires_sec = int(expires)
        expires_usec = min(int(round((expires - expires_sec) * 1e6)), 999_999)
        stale = selected is not None and selected.stale
        lines = []
        for alg in _CHALLENGE_ORDER:
            if alg not in algs:
                continue
            params = nonces.NonceParams(expires_sec, expires_usec, index, qop,
                                        nonces.ALG_MD5 if alg == nonces.ALG_UNSPEC else alg)
            lines.append(self.build_auth_hf(header, realm, self.noncer.calc(params), qop, stale,
                                            nonces.ALGORITHM_NAMES.get(alg)))
        reason = "Unauthorized" if code == WWW_AUTH_CODE else "Proxy Authentication Required"
        if self.send_resp(ctx, code, reason, tuple(lines)) < 0:
            self._log(-1, "failed to send the response")
            return -1
        return 0

    @staticmethod
    def build_auth_hf(header: str, realm: str, nonce: str, qop: int, stale: bool, algorithm: str | None) -> str:
        """build_auth_hf(): `Digest realm="…", nonce="…"[, qop="…"][, stale=true][, algorithm=…]`."""
        parts = [f'{header}: Digest realm="{realm}", nonce="{nonce}"']
        if qop in _QOP_PARAM:
            parts.append(f'qop="{_QOP_PARAM[qop]}"')
        if stale:
            parts.append("stale=true")
        if algorithm is not None:
            parts.append(f"algorithm={algorithm}")
        return ", ".join(parts)

    # ---------------------------------------------------------------------------------- the authorize API
    def pre_auth(self, ctx, realm: str, kind: str) -> tuple[AuthResult, DigestCredentials | None, str]:
        """api.c pre_auth(): find the credentials for `realm` ("" = from To/From), check that they are
        complete (else 400) and that the nonce is ours, fresh, unused and issued for their qop and algorithm
        (else STALE_NONCE). Returns (result, the selected credentials, the realm used)."""
        msg = ctx.msg
        if msg is None or not msg.is_request:
            return AuthResult.AUTH_ERROR, None, realm
        # ACK and CANCEL cannot be challenged: always authorized
        if msg.method in ("ACK", "CANCEL"):
            return AuthResult.AUTHORIZED, None, realm
        if not realm:
            derived = self.realm_of(ctx, kind)
            if derived is None:
                self._log(-1, "failed to extract realm")
                self.send_resp(ctx, 400, "Bad Request")
                return AuthResult.ERROR, None, realm
            realm = derived
        try:
            selected = self._find_credentials(msg, realm, kind)
        except SIPParseError:
            self._log(-1, "failed to parse credentials")
            self.send_resp(ctx, 400, "Bad Request")
            return AuthResult.ERROR, None, realm
        if selected is None:
            return AuthResult.NO_CREDENTIALS, None, realm
        if not self._complete(selected):
            self.send_resp(ctx, 400, "Bad Request")
            return AuthResult.ERROR, None, realm
        ctx.module_state.setdefault("auth", {})[kind] = selected  # mark_authorized_cred()
        if not self._nonce_ok(selected, ctx.now):
            selected.stale = True
            return AuthResult.STALE_NONCE, selected, realm
        return AuthResult.DO_AUTHORIZATION, selected, realm

    @staticmethod
    def _find_credentials(msg, realm: str, kind: str) -> DigestCredentials | None:
        """find_credentials(): the first Digest credentials of `kind` whose realm equals `realm` (case
        insensitively) with an algorithm we can compute. Other schemes are skipped; a Digest header that
        does not parse raises SIPParseError (400)."""
        for field in msg.header_fields(kind):
            value = field.value
            if value[:6].lower() != "digest" or (len(value) > 6 and value[6] not in " \t"):
                continue
            credentials = parse_credentials(value)
            alg = nonces.parse_algorithm(credentials.params.get("algorithm"))
            if (credentials.realm or "").lower() == realm.lower() and available_algorithm(alg):
                return DigestCredentials(kind, field.index, credentials, alg,
                                         nonces.parse_qop(credentials.params.get("qop")))
        return None

    @staticmethod
    def _complete(selected: DigestCredentials) -> bool:
        """check_dig_cred(): username, realm, nonce, uri and response; cnonce and nc with a qop."""
        params = selected.credentials.params
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(params.get(name) is None for name in needed):
            return False
        if selected.qop != nonces.QOP_UNSPEC and (params.get("cnonce") is None or params.get("nc") is None):
            return False
        return True

    def _nonce_ok(self, selected: DigestCredentials, now: float) -> bool:
        issued = self.noncer.decrypt(selected.credentials.nonce or "")
        if issued is None:
            return False
        expected_alg = nonces.ALG_MD5 if selected.alg == nonces.ALG_UNSPEC else selected.alg
        if issued.alg != expected_alg:
            return False
        qop = selected.qop
        if qop == nonces.QOP_UNSPEC and issued.qop != nonces.QOP_UNSPEC:
            qop = nonces.QOP_AUTH  # RFC 8760: a missing qop means "auth"
        if issued.qop != qop:
            both = issued.qop in (nonces.QOP_AUTHINT_AUTH, nonces.QOP_AUTH_AUTHINT)
            if not (both and qop in (nonces.QOP_AUTH, nonces.QOP_AUTHINT)):
                return False
        if issued.is_stale(now, self.nonce_expire):
            return False
        if self.nonce_index is not None:
            return self.nonce_index.consume(issued.index, now)
        return issued.index == 0

    @staticmethod
    def calc_ha1(selected: DigestCredentials, realm: str, *, password: str | None = None,
                 ha1: str | None = None, check_length: bool = True) -> str | None:
        """auth_calc_HA1(): HA1 from the password (over the whole username and `realm`), or a stored HA1 that
        must have the algorithm's hex length (auth_db's columns; pv_*_authorize takes it unchecked); the
        -sess step on top. None when the stored HA1 is unusable."""
        alg = selected.alg
        name = nonces.ALGORITHM_NAMES.get(nonces.ALG_MD5 if alg == nonces.ALG_UNSPEC else alg)
        params = selected.credentials.params
        if ha1 is not None and check_length and len(ha1) != _HASH_HEX_LEN[alg]:
            return None
        return calc_ha1(selected.username, realm, password or "", name, nonce=params.get("nonce", ""),
                        cnonce=params.get("cnonce", ""), ha1=ha1)

    @staticmethod
    def check_response(selected: DigestCredentials, method: str, body: bytes, ha1: str) -> bool:
        """api.c check_response(): recompute the response with our HA1 and compare (lower-case hex, as the
        C compares against its own hex)."""
        params = selected.credentials.params
        response = params.get("response", "")
        if len(response) != _HASH_HEX_LEN[selected.alg]:
            return False
        alg = selected.alg
        name = nonces.ALGORITHM_NAMES.get(nonces.ALG_MD5 if alg == nonces.ALG_UNSPEC else alg)
        # the qop as written goes into the hash (auth-int in another letter case is not recognised here)
        expected = calc_response(ha1, params.get("nonce", ""), method, params.get("uri", ""), algorithm=name,
                                 qop=params.get("qop") or None, nc=params.get("nc", ""),
                                 cnonce=params.get("cnonce", ""), body=body)
        return hmac.compare_digest(expected.encode(), response.encode("utf-8", "surrogateescape"))

    # ---------------------------------------------------------------------------------- pv_*_authorize
    def pv_www_authorize(self, ctx, realm: str) -> int:
        return int(self._pv_authorize(ctx, realm, AUTHORIZATION))

    def pv_proxy_authorize(self, ctx, realm: str) -> int:
        return int(self._pv_authorize(ctx, realm, PROXY_AUTHORIZATION))

    def _pv_authorize(self, ctx, realm: str, kind: str) -> AuthResult:
        result, selected, realm = self.pre_auth(ctx, realm or "", kind)
        if result != AuthResult.DO_AUTHORIZATION:
            return result
        found = self._ha1_from_specs(ctx, selected, realm)
        if found is None:
            self.send_resp(ctx, 500, AUTH_500_REASON)
            return AuthResult.ERROR
        if found is False:
            return AuthResult.USER_UNKNOWN
        if self.check_response(selected, ctx.msg.method, ctx.msg.body, found):
            return AuthResult.AUTHORIZED
        return AuthResult.INVALID_PASSWORD

    def _ha1_from_specs(self, ctx, selected: DigestCredentials, realm: str) -> str | bool | None:
        """auth_get_ha1(): the username spec must equal the credentials' username (else "user unknown",
        False); the password spec gives the password (calculate_ha1=1) or the HA1. None = error (a spec
        unset or empty): the caller answers 500."""
        if self._username_spec is None or self._password_spec is None:
            self._log(-1, "before calling pv_xxx_authorize(), you MUST first define the 'username_spec' "
                        "and 'password_spec' modparams")
            return None
        username = self._username_spec.get(ctx)
        if not isinstance(username, str) or username == "":
            return None
        if username.lower() != selected.username.lower():
            return False
        password = self._password_spec.get(ctx)
        if not isinstance(password, str) or password == "":
            return None
        if self.calculate_ha1:
            return self.calc_ha1(selected, realm, password=password)
        return self.calc_ha1(selected, realm, ha1=password, check_length=False)

    # ---------------------------------------------------------------------------------- other functions
    def consume_credentials(self, ctx) -> int:
        """Remove the header holding the credentials authorize selected (1), -1 when there are none."""
        selected = selected_credentials(ctx, AUTHORIZATION) or selected_credentials(ctx, PROXY_AUTHORIZATION)
        if selected is None:
            if ctx.msg is not None and ctx.msg.is_request and ctx.msg.method not in ("ACK", "CANCEL"):
                self._log(-1, "no authorized credentials found (error in scripts)")
            return -1
        ctx.msg.remove_field(selected.field_index)
        return 1

    def _rpid(self, ctx) -> str | None:
        values = ctx.avps.get(self.rpid_avp) if self.rpid_avp else None
        value = values[0] if values else None
        return value if isinstance(value, str) and value else None

    def is_rpid_user_e164(self, ctx) -> int:
        """The URI in the rpid AVP (a name-addr or a bare URI) has an E.164 user ('+' and digits)."""
        if self.rpid_avp is None:
            self._log(-1, "rpid avp not defined")
            return -1
        rpid = self._rpid(ctx)
        if rpid is None:
            return -1
        from opensips_py.sip.headers import parse_name_addr
        from opensips_py.sip.uri import URI
        try:
            uri_text = parse_name_addr(rpid, "RPID").uri_text if "<" in rpid else rpid
            user = URI(uri_text).user or ""
        except (SIPParseError, ValueError):
            return -1
        return 1 if 2 < len(user) < 17 and user[0] == "+" and user[1:].isdigit() and user[1:].isascii() \
            else -1

    def append_rpid_hf(self, ctx, prefix: str | None = None, suffix: str | None = None) -> int:
        """Remote-Party-ID: prefix + the rpid AVP + suffix, appended after the last header."""
        if (prefix is None) != (suffix is None):
            self._log(-1, "append_rpid_hf(): bad parameters")
            return -1
        if self.rpid_avp is None:
            self._log(-1, "rpid avp not defined")
            return -1
        rpid = self._rpid(ctx)
        if rpid is None:
            return -1
        before = self.rpid_prefix if prefix is None else prefix
        after = self.rpid_suffix if suffix is None else suffix
        ctx.msg.add_header("Remote-Party-ID", before + rpid + after)
        return 1

    # ---------------------------------------------------------------------------------- variables
    def pvars(self) -> dict:
        """$Au with the credentials authorize selected (user@realm), else the From identity (pvar.c
        pv_get_acc_username): the core's $Au knows nothing of auth state, so the loaded module answers."""
        import opensips_py.script.pv_core  # noqa: F401  (the core $Au this one falls back to)
        from opensips_py.script.pvars import CORE_HANDLERS, Handler

        def acc_username(ctx, arg, index):
            selected = selected_credentials(ctx) if ctx.msg is not None else None
            if selected is not None and selected.user:
                return f"{selected.user}@{selected.realm}" if selected.realm else selected.user
            return CORE_HANDLERS["Au"].get(ctx, arg, index)

        return {"Au": Handler("Au", acc_username)}
