"""stir_shaken's script functions, $identity and MI commands, with the return codes, reply codes and reasons
of modules/stir_shaken/stir_shaken.c (OpenSIPS 3.4–3.6, the same logic on master). docs/stir-shaken.md
describes them for script writers.
"""
from __future__ import annotations

import calendar
import email.utils
import re
import time
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric import ec

from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.stir_shaken import EXPORTS
from opensips_py.modules.stir_shaken.certs import (
    CertError, TrustStore, has_tn_auth_list, load_certificates, load_private_key, valid_at,
)
from opensips_py.modules.stir_shaken.passport import (
    RAW_SIGNATURE_LEN, InvalidIdentity, ParsedIdentity, identity_value, parse_identity, sign, signature_valid,
    unsigned_passport,
)
from opensips_py.script.pvars import Handler
from opensips_py.sip import SIPParseError
from opensips_py.sip.headers import parse_name_addr_list
from opensips_py.sip.uri import URI

# The attestation levels stir_shaken_auth() takes (fixup_attest), case-insensitive
ATTEST_LEVELS = {"a": "A", "full": "A", "b": "B", "partial": "B", "c": "C", "gateway": "C"}

# Reply codes and reasons written into stir_shaken_verify()'s output variables (stir_shaken.h)
BAD_REQUEST = 400
BADREQ_ORIG_REASON = "Bad Request (PAI/From Number)"
BADREQ_DEST_REASON = "Bad Request (To Number)"
BADREQ_NODATE_REASON = "Bad Request (Missing Date)"
STALE_DATE = (403, "Stale Date")
UNSUPPORTED_CREDENTIAL = (437, "Unsupported Credential")
INVALID_IDENTITY_CODE = 438
INVALID_IDENTITY_REASON = "Invalid Identity Header"
INTERNAL_ERROR = 500
IERROR_REASON = "Internal Server Error"

# Date header format (DATE_FORMAT "%a, %d %b %Y %H:%M:%S GMT"), read leniently like glibc's strptime:
# 1-2 digit fields, any spacing, anything after "GMT" ignored
_DATE = re.compile(r"\s*([A-Za-z]{3})[A-Za-z]*\s*,\s*(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\s+(\d{1,4})\s+"
                   r"(\d{1,2}):(\d{1,2}):(\d{1,2})\s+GMT")
_MONTHS = {name: i for i, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                              "oct", "nov", "dec"), start=1)}
_PARSED_KEY = "stir_shaken.identity"


class IdentityLookupError(Exception):
    """get_parsed_identity() failed: `code` -1 (internal), -2 (no usable Identity header), -4 (invalid)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def date_timestamp(value: str) -> int | None:
    """get_date_ts(): the Date header as a UNIX time (read as UTC), None when it does not parse."""
    if len(value) >= 64:
        return None
    m = _DATE.match(value)
    if m is None or m.group(3).lower() not in _MONTHS:
        return None
    day, year, hour, minute, second = (int(m.group(i)) for i in (2, 4, 5, 6, 7))
    if not (1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 61):
        return None
    return calendar.timegm((year, _MONTHS[m.group(3).lower()], day, hour, minute, second, 0, 0, 0))


def is_e164(number: str, require_plus: bool, max_digits: int) -> bool:
    """ut.h _is_e164()."""
    if not number:
        return False
    if number[0] == "+":
        digits = number[1:]
    elif require_plus:
        return False
    else:
        digits = number
    return 2 <= len(digits) <= max_digits and all("0" <= c <= "9" for c in digits)


class Module(ModuleBase):
    """STIR/SHAKEN authentication (stir_shaken_auth) and verification (stir_shaken_verify)."""

    exports = EXPORTS

    def __init__(self, core: Any, params: dict[str, list]):
        super().__init__(core, params)
        self.wall_clock: Callable[[], float] = time.time  # time(0): the module's checks use the real clock
        self.auth_date_freshness = self.int_param("auth_date_freshness")
        self.verify_date_freshness = self.int_param("verify_date_freshness")
        self.e164_strict_mode = bool(self.int_param("e164_strict_mode"))
        self.e164_max_length = self.int_param("e164_max_length")
        self.require_date_hdr = bool(self.int_param("require_date_hdr"))
        self.store = TrustStore()

    def init(self) -> None:
        """mod_init → init_cert_validation(): the trusted CAs (and the system's, as OpenSSL adds its default
        paths when a CA location is given) and the CRLs; a location that does not load stops the start."""
        ca_list, ca_dir = self._str_param("ca_list"), self._str_param("ca_dir")
        crl_list, crl_dir = self._str_param("crl_list"), self._str_param("crl_dir")
        try:
            if ca_list or ca_dir:
                self.store.add_ca_locations(ca_list, ca_dir)
                self.store.add_system_cas()
            if crl_list or crl_dir:
                self.store.add_crl_locations(crl_list, crl_dir)
        except CertError as exc:
            raise ModuleInitError(f"stir_shaken: failed to load trusted CAs/CRLs: {exc}") from exc

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, module="stir_shaken")

    def _str_param(self, name: str) -> str | None:
        value = self.param(name)
        return str(value) if value not in (None, "") else None

    # ------------------------------------------------------------------------------------------ numbers
    def _passport_number(self, number: str | None) -> str | None:
        """check_passport_phonenum(): the number without its leading '+', or None when it is not E.164.
        (The '+' goes first, then _is_e164 runs with require_plus = e164_strict_mode, as in OpenSIPS.)"""
        if not number:
            return None
        if number[0] == "+":
            number = number[1:]
        return number if is_e164(number, self.e164_strict_mode, self.e164_max_length) else None

    def _tn_from_uri(self, uri_text: str) -> tuple[int, str]:
        try:
            uri = URI(uri_text)
        except (SIPParseError, ValueError):
            return -1, ""
        if uri.scheme not in ("sip", "sips", "tel", "tels"):
            return -3, ""
        if self.e164_strict_mode and uri.scheme in ("sip", "sips") and uri.params.get("user") != "phone":
            return -3, ""
        if uri.scheme in ("tel", "tels") and not uri.user:
            user = getattr(uri, "opaque", None) or uri_text.split(":", 1)[1]
        else:
            user = uri.user or ""
        return 0, user.split(";", 1)[0]  # trim_user_params

    def orig_tn_of(self, msg) -> tuple[int, str]:
        """get_orig_tn_from_msg(): the user of the first P-Asserted-Identity URI, else of the From URI."""
        pai = msg.header("P-Asserted-Identity")
        try:
            body = parse_name_addr_list(pai, "P-Asserted-Identity")[0] if pai is not None else msg.from_
        except (SIPParseError, IndexError):  # a malformed header, or an empty list
            return -1, ""
        if body is None:
            return -1, ""
        return self._tn_from_uri(body.uri_text)

    def dest_tn_of(self, msg) -> tuple[int, str]:
        """get_dest_tn_from_msg(): the user of the To URI."""
        try:
            body = msg.to
        except SIPParseError:
            return -1, ""
        if body is None:
            return -1, ""
        return self._tn_from_uri(body.uri_text)

    @staticmethod
    def _header(msg, name: str):
        """get_header_by_static_name(): the first header of that exact name (any case, no compact form)."""
        return next((f for f in msg.headers if f.name.lower() == name.lower()), None)

    # ------------------------------------------------------------------------------------------ auth
    def stir_shaken_auth(self, ctx, attest: str, origid: str, cert: str, pkey: str, x5u: str,
                         orig: str | None = None, dest: str | None = None, out=None) -> int:
        """Sign a PASSporT and add it as an Identity header (to the request, or into `out`).
        1 done; -1 error (bad attest, certificate or key); -3 orig/dest not a telephone number; -4 Date
        header further than auth_date_freshness from now; -5 now or the Date outside the certificate's
        validity."""
        msg = ctx.msg
        level = ATTEST_LEVELS.get((attest or "").lower())
        if level is None:
            self._log(-1, "Bad attestation level")
            return -1  # the fixup fails at run time: E_UNSPEC
        if orig is None:
            rc, orig = self.orig_tn_of(msg)
            if rc < 0:
                return rc
        orig_tn = self._passport_number(orig)
        if orig_tn is None:
            self._log(-1, f"failed to validate Originator number ({orig})")
            return -3
        if dest is None:
            rc, dest = self.dest_tn_of(msg)
            if rc < 0:
                return rc
        dest_tn = self._passport_number(dest)
        if dest_tn is None:
            self._log(-1, f"failed to validate Destination number ({dest})")
            return -3

        now = int(self.wall_clock())
        date_field = self._header(msg, "Date")
        if date_field is None:
            msg.lumps.insert.setdefault(len(msg.headers), []).append(
                "Date: " + email.utils.formatdate(now, usegmt=True))
            date_ts = now
        else:
            date_ts = date_timestamp(date_field.value)
            if date_ts is None:
                self._log(-1, "Failed to get UNIX time from Date header")
                return -1
            if abs(now - date_ts) > self.auth_date_freshness:
                self._log(2, "Date header timestamp diff exceeds local policy")
                return -4

        try:
            certificate = load_certificates(cert or "")[0]
            key = load_private_key(pkey or "")
        except CertError as exc:
            self._log(-1, f"{exc}")
            return -1
        if not valid_at(certificate, now):
            self._log(2, "The current time does not fall within the certificate validity")
            return -5
        if date_ts != now and not valid_at(certificate, date_ts):
            self._log(2, "The Date header does not fall within the certificate validity")
            return -5

        signing_input = unsigned_passport(date_ts, level, x5u, orig_tn, dest_tn, origid)
        try:
            token = signing_input + "." + sign(key, signing_input)
        except ValueError as exc:
            self._log(-1, f"Failed to sign: {exc}")
            return -1
        value = identity_value(token, x5u)
        if out is None:
            msg.lumps.insert.setdefault(len(msg.headers), []).append("Identity: " + value)
        else:
            out.set(ctx, "Identity: " + value + "\r\n")  # the variable gets the whole header line, CRLF included
        return 1

    def stir_shaken_disengagement(self, ctx, token: str) -> int:
        """Add `P-Identity-Bypass: token` (the incident-management bypass of the French regulation)."""
        ctx.msg.lumps.insert.setdefault(len(ctx.msg.headers), []).append(f"P-Identity-Bypass: {token}")
        return 1

    # ------------------------------------------------------------------------------------------ parsing
    def parsed_identity(self, ctx) -> ParsedIdentity:
        """get_parsed_identity(): the first Identity header with ;ppt=shaken, parsed once per message."""
        cached = ctx.module_state.get(_PARSED_KEY)
        if cached is not None:
            return cached
        msg = ctx.msg
        if msg is None:
            raise IdentityLookupError(-1)
        fields = [f for f in msg.headers if f.name.lower() == "identity"]
        if not fields:
            raise IdentityLookupError(-2)
        code = -2
        for field in fields:
            try:
                parsed = parse_identity(field.value)
            except InvalidIdentity:
                code = -4
                continue
            if parsed.ppt_param == "shaken":
                ctx.module_state[_PARSED_KEY] = parsed
                return parsed
            code = -2  # an unsupported ppt extension: as if there were no proper Identity header
        raise IdentityLookupError(code)

    # ------------------------------------------------------------------------------------------ verify
    def stir_shaken_verify(self, ctx, cert: str, err_code, err_reason, orig: str | None = None,
                           dest: str | None = None) -> int:
        """Verify the Identity header. 1 verified; on failure the reply code and reason to send go into
        err_code/err_reason and the return code says which check failed (-1 … -9, docs/stir-shaken.md)."""
        msg = ctx.msg

        def fail(rc: int, code: int, reason: str) -> int:
            err_code.set(ctx, code)
            err_reason.set(ctx, reason)
            return rc

        if orig is None:
            error = (BAD_REQUEST, BADREQ_ORIG_REASON)
            rc, orig = self.orig_tn_of(msg)
            if rc < 0:
                return fail(rc, *error)
        else:
            error = (INTERNAL_ERROR, IERROR_REASON)
        orig_tn = self._passport_number(orig)
        if orig_tn is None:
            self._log(-1, f"failed to validate Originator number ({orig})")
            return fail(-3, *error)
        if dest is None:
            error = (BAD_REQUEST, BADREQ_DEST_REASON)
            rc, dest = self.dest_tn_of(msg)
            if rc < 0:
                return fail(rc, *error)
        else:
            error = (INTERNAL_ERROR, IERROR_REASON)
        dest_tn = self._passport_number(dest)
        if dest_tn is None:
            self._log(-1, f"failed to validate Destination number ({dest})")
            return fail(-3, *error)

        try:
            parsed = self.parsed_identity(ctx)
        except IdentityLookupError as exc:
            if exc.code == -1:
                return fail(-1, INTERNAL_ERROR, "Failed to parse identity header")
            return fail(exc.code, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON)
        if parsed.alg_param is not None and parsed.alg_param != "ES256":
            self._log(2, f"Unsupported 'alg': {parsed.alg_param}")
            return fail(-5, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON)
        if not parsed.claims_ok():
            self._log(2, "Required PASSporT claims are missing or have bad datatypes")
            return fail(-4, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON)

        date_field = self._header(msg, "Date")
        now = int(self.wall_clock())
        iat = int(parsed.iat)
        date_ts = None
        if self.require_date_hdr or date_field is not None:
            if date_field is None:
                return fail(-2, BAD_REQUEST, BADREQ_NODATE_REASON)
            date_ts = date_timestamp(date_field.value)
            if date_ts is None:
                return fail(-1, INTERNAL_ERROR, "Failed to get UNIX time from Date header")
            if abs(now - date_ts) > self.verify_date_freshness:
                self._log(2, "Date header timestamp diff exceeds local policy")
                return fail(-6, *STALE_DATE)
        elif abs(now - iat) > self.verify_date_freshness:
            self._log(2, "'iat' timestamp diff exceeds local policy")
            return fail(-6, *STALE_DATE)

        # different identities in the PASSporT and the request: the signature could not verify anyway
        if parsed.orig_tn != orig_tn:
            self._log(2, f"Differing identities in orig claim [{parsed.orig_tn}] and PAI/From "
                       f"[{orig_tn}]")
            return fail(-9, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON)
        if parsed.dest_tn != dest_tn:
            self._log(2, f"Differing identities in dest claim [{parsed.dest_tn}] and To "
                       f"[{dest_tn}]")
            return fail(-9, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON)

        try:
            chain = load_certificates(cert or "")
        except CertError as exc:
            self._log(-1, f"Failed to load certificate: {exc}")
            return fail(-1, INTERNAL_ERROR, "Failed to load certificate")
        leaf = chain[0]
        checked_at = date_ts if date_ts is not None else iat
        if not valid_at(leaf, checked_at):
            self._log(3, "The %s does not fall within the certificate validity"
                    % ("Date header" if date_ts is not None else "'iat' value"))
            return fail(-7, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON + " (cert validity)")
        if not has_tn_auth_list(leaf):
            self._log(3, "The certificate is missing the TnAuthList extension")
            return fail(-8, *UNSUPPORTED_CREDENTIAL)
        if not self.store.verify(leaf, chain, now):
            self._log(3, "Invalid certificate")
            return fail(-8, *UNSUPPORTED_CREDENTIAL)

        if date_field is not None and iat != date_ts and abs(now - iat) > self.verify_date_freshness:
            iat = date_ts
        if len(parsed.signature) != RAW_SIGNATURE_LEN:
            return fail(-9, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON + " (bad signature)")
        public_key = leaf.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return fail(-1, INTERNAL_ERROR, "Error while verifying signature")
        signing_input = unsigned_passport(iat, parsed.attest, parsed.x5u, orig_tn, dest_tn, parsed.origid)
        if not signature_valid(public_key, signing_input, parsed.signature):
            self._log(3, "Signature did not verify successfully")
            return fail(-9, INVALID_IDENTITY_CODE, INVALID_IDENTITY_REASON + " (bad signature)")
        return 1

    def stir_shaken_check(self, ctx) -> int:
        """The Identity header's form only: 1 good; -1 error; -3 invalid or missing claims; -4 bad ;alg."""
        try:
            parsed = self.parsed_identity(ctx)
        except IdentityLookupError as exc:
            return -1 if exc.code == -1 else -3
        if parsed.alg_param is not None and parsed.alg_param != "ES256":
            return -4
        return 1 if parsed.claims_ok() else -3

    def stir_shaken_check_cert(self, ctx, cert: str) -> int:
        """1 if now is inside the certificate's validity period, -2 if not, -1 if it does not load."""
        try:
            certificate = load_certificates(cert or "")[0]
        except CertError:
            return -1
        return 1 if valid_at(certificate, self.wall_clock()) else -2

    # ------------------------------------------------------------------------------------------ $identity
    def pvars(self) -> dict[str, Handler]:
        fields: dict[str, Callable[[ParsedIdentity], Any]] = {
            "header": lambda p: p.header_text,
            "x5u": lambda p: p.x5u,
            "payload": lambda p: p.payload_text,
            "attest": lambda p: p.attest,
            "dest": lambda p: p.dest_tn,
            "iat": lambda p: p.iat,
            "orig": lambda p: p.orig_tn,
            "origid": lambda p: p.origid,
        }

        def identity(ctx, arg, index):
            # `$identity` without a name reads the header, as OpenSIPS's name index 0 is PV_HEADER
            get = fields.get(arg or "header")
            if get is None:
                return None
            try:
                parsed = self.parsed_identity(ctx)
            except IdentityLookupError:
                return None
            value = get(parsed)
            if arg == "iat":
                return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            return value if isinstance(value, str) else None

        return {"identity": Handler("identity", identity)}

    # ------------------------------------------------------------------------------------------ MI
    def mi_commands(self) -> dict[str, Callable]:
        return {"stir_shaken_ca_reload": self._mi_ca_reload, "stir_shaken_crl_reload": self._mi_crl_reload}

    def _mi_ca_reload(self, params) -> str:
        """init_cert_ca_reload(): a new store from ca_list AND ca_dir (both must be set) plus the system
        CAs. As in OpenSIPS the new store replaces the old one before the checks, so a failed reload leaves
        no trusted CA, and the CRLs are not reloaded into it."""
        from opensips_py.mi.errors import MIError
        self.store = TrustStore()
        ca_list, ca_dir = self._str_param("ca_list"), self._str_param("ca_dir")
        if not ca_list:
            raise MIError(500, "Error ca_list param.")
        if not ca_dir:
            raise MIError(500, "Error ca_dir param.")
        try:
            self.store.add_ca_locations(ca_list, ca_dir)
        except CertError:
            raise MIError(500, "Error failed to load trusted CAs.")
        self.store.add_system_cas()
        return "OK"

    def _mi_crl_reload(self, params) -> str:
        """init_cert_crl_reload(): a new store with crl_list AND crl_dir only (no CAs: as in OpenSIPS,
        verification fails afterwards until stir_shaken_ca_reload runs)."""
        from opensips_py.mi.errors import MIError
        self.store = TrustStore()
        crl_list, crl_dir = self._str_param("crl_list"), self._str_param("crl_dir")
        if not crl_list:
            raise MIError(500, "Error crl_list param.")
        if not crl_dir:
            raise MIError(500, "Error crl_dir param.")
        try:
            self.store.add_crl_locations(crl_list, crl_dir)
        except CertError:
            raise MIError(500, "Error failed to load trusted CRL.")
        return "OK"
