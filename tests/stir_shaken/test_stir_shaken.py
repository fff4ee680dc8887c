"""stir_shaken on the virtual network: stir_shaken_auth() signs with a generated key and certificate and
stir_shaken_verify() checks the result against a generated CA, with OpenSIPS's return codes and the reply
code/reason it writes into the output variables (stir_shaken.c), $identity, stir_shaken_check(),
stir_shaken_check_cert(), stir_shaken_disengagement() and the MI reloads."""
from __future__ import annotations

import base64
import email.utils
import time

import pytest

from opensips_py.mi import MIError
from opensips_py.modules.stir_shaken.passport import b64url, identity_value, sign, unsigned_passport
from opensips_py.runtime.core import StartupFailure
from tests.modules.auth_support import script_lines
from tests.runtime.support import Proxy, parsed, request
from tests.stir_shaken.support import StiCA

ORIG, DEST = "+33612345678", "+33987654321"
X5U = "https://certs.example.org/cert.pem"


@pytest.fixture(scope="module")
def ca() -> StiCA:
    return StiCA()


@pytest.fixture(scope="module")
def signer(ca):
    return ca.issue()


def caller(extra: str = "", *, orig: str = ORIG, dest: str = DEST, branch: str = "z9hG4bK1") -> bytes:
    data = request(ruri=f"sip:{dest}@192.0.2.20;user=phone", extra=extra, branch=branch)
    return (data.replace(b"<sip:alice@atlanta.com>", f"<sip:{orig}@192.0.2.10;user=phone>".encode())
            .replace(b"<sip:bob@biloxi.com>", f"<sip:{dest}@192.0.2.20;user=phone>".encode()))


def token(signer, *, iat: int | None = None, orig: str = "33612345678", dest: str = "33987654321",
          attest: str = "A", origid: str = "4437c7eb") -> str:
    signing_input = unsigned_passport(int(time.time()) if iat is None else iat, attest, X5U, orig, dest, origid)
    return signing_input + "." + sign(signer.key, signing_input)


def identity(signer, **kw) -> str:
    return "Identity: " + identity_value(token(signer, **kw), X5U)


def quoted(pem: str) -> str:
    return pem.strip()


# ------------------------------------------------------------------------------------------------ auth

def auth_proxy(signer, call: str, params: str = "") -> Proxy:
    return Proxy(f'loadmodule "stir_shaken.so"\n{params}route {{\n'
                 f'    $var(cert) = "{quoted(signer.cert_pem)}";\n'
                 f'    $var(key) = "{quoted(signer.key_pem)}";\n'
                 f'    {call}\n'
                 '    $var(rc) = $rc;\n    xlog("rc=$var(rc)\\n");\n'
                 '    if ($var(rc) < 0) { send_reply(500, "Server Internal Error"); exit; }\n'
                 '    forward("udp:192.0.2.20:5060");\n}\n')


AUTH = f'stir_shaken_auth("A", "4437c7eb", "$var(cert)", "$var(key)", "{X5U}");'


def test_auth_adds_identity_and_date_that_verify_with_the_signing_key(signer):
    proxy = auth_proxy(signer, AUTH)
    out = proxy.send(caller())
    assert script_lines(proxy) == ["rc=1"]
    relayed = parsed(out[0])
    value = relayed.header("Identity")
    assert value.endswith(f";info=<{X5U}>;alg=ES256;ppt=shaken")
    date = email.utils.parsedate_to_datetime(relayed.header("Date")).timestamp()
    assert abs(date - time.time()) < 5
    # what OpenSIPS signs: its canonical PASSporT with the numbers without '+', iat = the Date
    tok = value.split(";")[0]
    assert tok.rsplit(".", 1)[0] == unsigned_passport(int(date), "A", X5U, "33612345678", "33987654321",
                                                      "4437c7eb")


def test_auth_into_a_variable_keeps_the_crlf_and_still_adds_date(signer):
    call = (f'stir_shaken_auth("full", "x", "$var(cert)", "$var(key)", "{X5U}", "+1234", "5678", '
            '"$var(hdr)"); xlog("hdr=[$var(hdr)]\\n");')
    proxy = auth_proxy(signer, call)
    out = proxy.send(caller())
    lines = script_lines(proxy)
    assert lines[0].startswith("hdr=[Identity: ey") and lines[0].endswith(";ppt=shaken\r\n]")
    assert lines[1] == "rc=1"
    relayed = parsed(out[0])
    assert relayed.header("Identity") is None and relayed.header("Date") is not None


@pytest.mark.parametrize("call, rc", [
    ('stir_shaken_auth("D", "x", "$var(cert)", "$var(key)", "u");', -1),            # bad attest level
    ('stir_shaken_auth("A", "x", "", "$var(key)", "u");', -1),                        # no certificate
    ('stir_shaken_auth("A", "x", "$var(cert)", "junk", "u");', -1),                   # no key
    ('stir_shaken_auth("A", "x", "$var(cert)", "$var(key)", "u", "++4");', -3),       # orig not E.164
    ('stir_shaken_auth("A", "x", "$var(cert)", "$var(key)", "u", "123", "1");', -3),  # dest too short
])
def test_auth_failures_return_opensips_codes(signer, call, rc):
    proxy = auth_proxy(signer, call)
    assert parsed(proxy.send(caller())[0]).status == 500
    assert script_lines(proxy) == [f"rc={rc}"]


def test_auth_takes_numbers_from_pai_first_and_refuses_non_telephone_uris(signer):
    proxy = auth_proxy(signer, AUTH)
    out = proxy.send(caller("P-Asserted-Identity: <tel:+441234567>, <sip:+1555@example.org>"))
    payload = parsed(out[0]).header("Identity").split(".")[1]
    assert b'"orig":{"tn":"441234567"}' in base64.urlsafe_b64decode(payload + "==")
    proxy = auth_proxy(signer, AUTH)
    proxy.send(caller("P-Asserted-Identity: <mailto:a@b.c>", branch="z9hG4bK2"))
    assert script_lines(proxy) == ["rc=-3"]


def test_auth_e164_strict_mode_needs_user_phone(signer):
    proxy = auth_proxy(signer, AUTH, 'modparam("stir_shaken", "e164_strict_mode", 1)\n')
    proxy.send(caller().replace(b";user=phone>", b">"))
    assert script_lines(proxy) == ["rc=-3"]


def test_auth_refuses_a_stale_date_and_an_expired_certificate(ca, signer):
    old = email.utils.formatdate(time.time() - 120, usegmt=True)
    proxy = auth_proxy(signer, AUTH)
    proxy.send(caller(f"Date: {old}"))
    assert script_lines(proxy) == ["rc=-4"]
    proxy = auth_proxy(signer, AUTH, 'modparam("stir_shaken", "auth_date_freshness", 300)\n')
    proxy.send(caller(f"Date: {old}"))
    assert script_lines(proxy) == ["rc=1"]
    proxy = auth_proxy(ca.issue(days_before=30, days_after=-1), AUTH)
    proxy.send(caller())
    assert script_lines(proxy) == ["rc=-5"]


def test_disengagement_adds_the_bypass_header(signer):
    proxy = auth_proxy(signer, 'stir_shaken_disengagement("token_toto");')
    assert parsed(proxy.send(caller())[0]).header("P-Identity-Bypass") == "token_toto"


# ------------------------------------------------------------------------------------------------ verify

def verify_proxy(tmp_path, ca, signer, params: str = "", args: str = "", crl: str | None = None) -> Proxy:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca.pem)
    head = f'loadmodule "stir_shaken.so"\nmodparam("stir_shaken", "ca_list", "{ca_file}")\n'
    if crl is not None:
        (tmp_path / "crl.pem").write_text(crl)
        head += f'modparam("stir_shaken", "crl_list", "{tmp_path / "crl.pem"}")\n'
    return Proxy(head + params + 'route {\n'
                 f'    $var(cert) = "{quoted(signer.cert_pem)}";\n'
                 f'    stir_shaken_verify("$var(cert)", $var(code), $var(reason){args});\n'
                 '    $var(rc) = $rc;\n'
                 '    xlog("rc=$var(rc) code=$var(code) reason=$var(reason)\\n");\n'
                 '    send_reply(200, "OK");\n}\n')


def now_date(offset: float = 0) -> str:
    return "Date: " + email.utils.formatdate(time.time() + offset, usegmt=True)


def verify(proxy: Proxy, data: bytes) -> str:
    proxy.send(data)
    return script_lines(proxy)[-1]


def test_verify_accepts_a_good_passport(tmp_path, ca, signer):
    proxy = verify_proxy(tmp_path, ca, signer)
    assert verify(proxy, caller(identity(signer) + "\n" + now_date())) == "rc=1 code=<null> reason=<null>"


def test_verify_uses_iat_when_no_date_is_required(tmp_path, ca, signer):
    proxy = verify_proxy(tmp_path, ca, signer, 'modparam("stir_shaken", "require_date_hdr", 0)\n')
    assert verify(proxy, caller(identity(signer))).startswith("rc=1 ")
    assert verify(proxy, caller(identity(signer, iat=int(time.time()) - 120), branch="z9hG4bK2")) == (
        "rc=-6 code=403 reason=Stale Date")


@pytest.mark.parametrize("extra, expected", [
    ("", "rc=-2 code=438 reason=Invalid Identity Header"),                                  # no Identity
    ("{id}", "rc=-2 code=400 reason=Bad Request (Missing Date)"),                           # no Date
    ("{id}\nDate: yesterday", "rc=-1 code=500 reason=Failed to get UNIX time from Date header"),
    ("{id}\n{stale}", "rc=-6 code=403 reason=Stale Date"),
    ("Identity: e30.e30.c2ln;ppt=div\n{id}\n{date}", "rc=1 code=<null> reason=<null>"),  # first ppt=shaken
    ("{id_alg}\n{date}", "rc=-5 code=438 reason=Invalid Identity Header"),
    ("{id_noppt}\n{date}", "rc=-2 code=438 reason=Invalid Identity Header"),
    ("Identity: a.b;ppt=shaken\n{date}", "rc=-4 code=438 reason=Invalid Identity Header"),
    ("{id_other_orig}\n{date}", "rc=-9 code=438 reason=Invalid Identity Header"),
    ("{id_badsig}\n{date}", "rc=-9 code=438 reason=Invalid Identity Header (bad signature)"),
])
def test_verify_failures_set_opensips_codes_and_reasons(tmp_path, ca, signer, extra, expected):
    good = identity(signer)
    header, payload, signature = good.split(";")[0].split(".")
    values = {
        "id": good, "date": now_date(), "stale": now_date(-3600),
        "id_alg": good.replace("alg=ES256", "alg=RS256"),
        "id_noppt": good.replace(";ppt=shaken", ""),
        "id_other_orig": identity(signer, orig="33600000000"),
        "id_badsig": good.replace(signature, b64url(b"\x07" * 64)),
    }
    proxy = verify_proxy(tmp_path, ca, signer)
    assert verify(proxy, caller(extra.format(**values))) == expected


def test_verify_numbers_given_by_the_script(tmp_path, ca, signer):
    data = caller(identity(signer) + "\n" + now_date())
    assert verify(verify_proxy(tmp_path, ca, signer, args=', "++4", "$tU"'), data) == (
        "rc=-3 code=500 reason=Internal Server Error")
    assert verify(verify_proxy(tmp_path, ca, signer, args=', "+33612345678", "+33999999999"'), data) == (
        "rc=-9 code=438 reason=Invalid Identity Header")
    proxy = verify_proxy(tmp_path, ca, signer)
    assert verify(proxy, caller(identity(signer) + "\n" + now_date(), orig="anonymous")) == (
        "rc=-3 code=400 reason=Bad Request (PAI/From Number)")


def test_verify_refuses_certificates_out_of_validity_untrusted_or_without_tn_auth_list(tmp_path, ca, signer):
    data = lambda s: caller(identity(s) + "\n" + now_date())  # noqa: E731
    expired = ca.issue(days_before=30, days_after=-1, key=signer.key)
    assert verify(verify_proxy(tmp_path, ca, expired), data(expired)) == (
        "rc=-7 code=438 reason=Invalid Identity Header (cert validity)")
    no_tn = ca.issue(tn_auth_list=False, key=signer.key)
    assert verify(verify_proxy(tmp_path, ca, no_tn), data(no_tn)) == "rc=-8 code=437 reason=Unsupported Credential"
    stranger = StiCA("Other CA").issue(key=signer.key)
    assert verify(verify_proxy(tmp_path, ca, stranger), data(stranger)) == (
        "rc=-8 code=437 reason=Unsupported Credential")


def test_verify_checks_revocation_lists(tmp_path, ca):
    signer = ca.issue(serial=4242)
    data = caller(identity(signer) + "\n" + now_date())
    assert verify(verify_proxy(tmp_path, ca, signer, crl=ca.crl(17)), data).startswith("rc=1 ")
    assert verify(verify_proxy(tmp_path, ca, signer, crl=ca.crl(4242)), data) == (
        "rc=-8 code=437 reason=Unsupported Credential")
    assert verify(verify_proxy(tmp_path, ca, signer, crl=StiCA("Other").crl()), data).startswith("rc=-8 ")


def test_a_ca_list_without_certificates_refuses_to_start(tmp_path):
    (tmp_path / "empty.pem").write_text("nothing")
    with pytest.raises(StartupFailure):
        Proxy(f'loadmodule "stir_shaken.so"\nmodparam("stir_shaken", "ca_list", "{tmp_path}/empty.pem")\n'
              'route { send_reply(200, "OK"); }\n')


# ------------------------------------------------------------------------------------------------ $identity, check

def test_identity_pv_reads_the_parsed_passport(tmp_path, ca, signer):
    proxy = Proxy('loadmodule "stir_shaken.so"\nroute {\n'
                  '    xlog("$identity(attest)|$identity(orig)|$identity(dest)|$identity(origid)|$identity(x5u)\\n");\n'
                  '    $var(iat) = $identity(iat) + 1;\n    xlog("iat+1=$var(iat)\\n");\n'
                  '    xlog("$identity\\n$identity(payload)\\n");\n'
                  '    stir_shaken_check(); xlog("check=$rc\\n");\n    send_reply(200, "OK");\n}\n')
    proxy.send(caller(identity(signer, iat=1700000000)))
    assert script_lines(proxy) == [
        f"A|33612345678|33987654321|4437c7eb|{X5U}", "iat+1=1700000001",
        f'{{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"{X5U}"}}\n'
        '{"attest":"A","dest":{"tn":["33987654321"]},"iat":1700000000,"orig":{"tn":"33612345678"},'
        '"origid":"4437c7eb"}',
        "check=1"]
    proxy = Proxy('loadmodule "stir_shaken.so"\nroute {\n'
                  '    xlog("$identity(attest)|$identity(iat)|$identity(header)|$identity(payload)\\n");\n'
                  '    stir_shaken_check(); xlog("check=$rc\\n");\n    send_reply(200, "OK");\n}\n')
    proxy.send(caller(branch="z9hG4bK9"))
    assert script_lines(proxy) == ["<null>|<null>|<null>|<null>", "check=-3"]


def test_check_flags_a_bad_alg_and_check_cert_the_validity_window(ca, signer):
    good, future = signer.cert_pem.strip(), ca.issue(days_before=-10, days_after=20).cert_pem.strip()
    proxy = Proxy('loadmodule "stir_shaken.so"\nroute {\n    stir_shaken_check(); xlog("check=$rc\\n");\n'
                  f'    stir_shaken_check_cert("{good}"); xlog("good=$rc\\n");\n'
                  f'    stir_shaken_check_cert("{future}"); xlog("future=$rc\\n");\n'
                  '    stir_shaken_check_cert("junk"); xlog("junk=$rc\\n");\n    send_reply(200, "OK");\n}\n')
    proxy.send(caller(identity(signer).replace("alg=ES256", "alg=XX")))
    assert script_lines(proxy) == ["check=-4", "good=1", "future=-2", "junk=-1"]


def test_mi_reloads_need_both_locations_as_in_opensips(tmp_path, ca, signer):
    (tmp_path / "ca.pem").write_text(ca.pem)
    (tmp_path / "dir").mkdir()
    proxy = Proxy(f'loadmodule "stir_shaken.so"\nmodparam("stir_shaken", "ca_list", "{tmp_path}/ca.pem")\n'
                  'route { send_reply(200, "OK"); }\n')
    module = proxy.core.modules["stir_shaken"]
    commands = module.mi_commands()
    with pytest.raises(MIError) as error:
        commands["stir_shaken_ca_reload"]({})
    assert (error.value.code, error.value.message) == (500, "Error ca_dir param.")
    assert not module.store.verify(signer.cert, [signer.cert], time.time())  # the store was replaced anyway
    module.params["ca_dir"] = [str(tmp_path / "dir")]
    assert commands["stir_shaken_ca_reload"]({}) == "OK"
    assert module.store.verify(signer.cert, [signer.cert], time.time())
    with pytest.raises(MIError) as error:
        commands["stir_shaken_crl_reload"]({})
    assert error.value.message == "Error crl_list param."
