"""stir_shaken against the SIPssert suite's own material: the PASSporT committed in stir-shaken/09 (signed by
PyJWT with SIPssert's key in June 2023) verifies with the suite's signing certificate and CA when the
module's clock is set to that time, and a PyJWT token made now carries OpenSIPS's canonical form."""
from __future__ import annotations

import re

import jwt
import pytest

from opensips_py.sipssert.tasks import _DEFAULT_KEY, passport_jwt
from tests.modules.auth_support import script_lines
from tests.runtime.support import Proxy, request
from tests.shared import OFFICIAL

SET = OFFICIAL / "sipssert-opensips-tests" / "stir-shaken"
IAT_09 = 1687444148  # the iat of the token in 09.verify-error-403-wrong-iat/scripts/uac.xml


def _scenario_material(name: str) -> tuple[str, str, str]:
    cfg = (SET / name / "opensips.cfg").read_text()
    cert = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", cfg, re.S).group(0)
    identity = re.search(r"^\s*Identity: (\S+)", (SET / name / "scripts" / "uac.xml").read_text(), re.M).group(1)
    return cert, identity, str(SET / name / "stir-shaken-ca" / "ca-cert.pem")


def _proxy(ca_file: str, cert: str) -> Proxy:
    return Proxy(f'loadmodule "stir_shaken.so"\nmodparam("stir_shaken", "ca_list", "{ca_file}")\n'
                 'modparam("stir_shaken", "require_date_hdr", 0)\n'
                 f'route {{\n    $var(cert) = "{cert}";\n'
                 '    stir_shaken_verify("$var(cert)", $var(code), $var(reason), "+33612345678", "+33987654321");\n'
                 '    xlog("rc=$rc code=$var(code)\\n");\n    send_reply(200, "OK");\n}\n')


@pytest.mark.parametrize("clock, expected", [
    (IAT_09 + 10, "rc=1 code=<null>"),            # June 2023: fresh iat, certificate and CA valid
    (IAT_09 + 3600, "rc=-6 code=403"),            # an hour later: stale iat
])
def test_sipssert_committed_passport_verifies_at_its_own_time(clock, expected):
    cert, identity, ca_file = _scenario_material("09.verify-error-403-wrong-iat")
    proxy = _proxy(ca_file, cert)
    proxy.core.modules["stir_shaken"].wall_clock = lambda: clock
    proxy.send(request(extra=f"Identity: {identity}"))
    assert script_lines(proxy) == [expected]


def test_a_tampered_committed_passport_fails_the_signature():
    cert, identity, ca_file = _scenario_material("09.verify-error-403-wrong-iat")
    token, params = identity.split(";", 1)
    header, payload, signature = token.split(".")
    tampered = ".".join((header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")))
    proxy = _proxy(ca_file, cert)
    proxy.core.modules["stir_shaken"].wall_clock = lambda: IAT_09 + 10
    proxy.send(request(extra=f"Identity: {tampered};{params}"))
    assert script_lines(proxy) == ["rc=-9 code=438"]


def test_the_runner_passport_is_what_pyjwt_makes_for_sipssert():
    d = {"stir_shaken_origid": "toto"}
    ours = passport_jwt(d, "+33987654321", "+33612345678", now=IAT_09)
    theirs = jwt.encode({"attest": "A", "dest": {"tn": ["33987654321"]}, "iat": IAT_09,
                         "orig": {"tn": "33612345678"}, "origid": "toto"}, _DEFAULT_KEY, algorithm="ES256",
                        headers={"alg": "ES256", "ppt": "shaken", "typ": "passport",
                                 "x5u": "https://certs.example.org/cert.pem"})
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]  # ECDSA signatures differ at each signing
    cert, identity, _ = _scenario_material("09.verify-error-403-wrong-iat")
    assert identity.split(";")[0].rsplit(".", 1)[0] == ours.rsplit(".", 1)[0]  # the very token 09 committed
