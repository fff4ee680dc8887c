"""OpenSIPS's own SIPssert scenarios against opensips-py, in CI: the representative part that passes and fits
the time limit (registration/, auth/, record-route/, dialog/01-08, 10-12, 14 and 16-18, uac-auth/16, permissions/,
accounting/, startup/, presence/01, topology-hiding/01, 02 and 06,
stir-shaken/01, 02 (MariaDB), 25 and 28, b2b/03, 25 and 28).
Each scenario is one test, run unmodified by `opensips-py sipssert` in its own network namespace, with
Debian's SIPp and python-opensips; a scenario that does not pass fails its test with the runner's reason.
The whole suite: `make sipssert` (docs/sipssert.md)."""
from __future__ import annotations

import pytest

from opensips_py.sipssert.runner import RunOptions, run_paths
from tests.shared import OFFICIAL

SUITE = OFFICIAL / "sipssert-opensips-tests"

CI_SCENARIOS = [
    "registration/01.no-db", "registration/02.db", "registration/03.expire", "registration/04.expire-min",
    "registration/05.expire-max", "registration/06.reregister-expire", "registration/07.limit",
    "registration/08.overwrite", "registration/09.lookup",
    "auth/01.password-db-www", "auth/02.password-db-www-domain", "auth/03.password-db-proxy",
    "auth/04.password-db-proxy-domain", "auth/05.ha1-db-www", "auth/06.ha1-db-www-domain",
    "auth/07.ha1-db-proxy", "auth/08.ha1-db-proxy-domain",
    "record-route/01.record-route", "record-route/02.record-route-protocols", "record-route/03.record-route-double",
    "dialog/01.dialog", "dialog/02.pinging", "dialog/03.reinvite-pinging", "dialog/04.expire",
    "dialog/05.reinvite-auth", "dialog/06.auth-update", "dialog/07.prack-uac-manual-success",
    "dialog/08.prack-uac-manual-multi-totag-success", "dialog/11.prack-uac-auto-success",
    "dialog/12.prack-uac-auto-multi-totag-success", "dialog/14.prack-uac-auto-fail-reject",
    "dialog/10.prack-uac-manual-fail-reject", "dialog/16.prack-uas-manual-fail",
    "dialog/17.prack-update-manual-success", "dialog/18.prack-update-manual-fail",
    "uac-auth/16.dialog-auth-invite-uas",
    "permissions/01.check-address", "permissions/02.check-address-fail",
    "accounting/01.db-transaction", "accounting/02.db-transaction-failed", "accounting/03.db-cdr",
    "startup/01.default-cfg", "startup/02.gen-residential-cfg", "startup/03.gen-trunking-cfg",
    "startup/04.gen-loadbalancer-cfg", "presence/01.presence",
    "topology-hiding/01.th-no-dialog", "topology-hiding/02.th-no-dialog-username",
    "topology-hiding/06.th-dialog-callid",
    "stir-shaken/01.auth-simple", "stir-shaken/02.auth-diverted-cached",
    "stir-shaken/25.verify-error-438-orig-diff-from",
    "stir-shaken/28.acc-stats-error-403-wrong-iat",
    "b2b/03.refer-unattended-uac", "b2b/25.top-hiding", "b2b/28.top-hiding-overlapping",
]


@pytest.mark.live
@pytest.mark.parametrize("name", CI_SCENARIOS)
def test_sipssert_scenario_passes(name, tmp_path):
    test_set, scenario = name.split("/")
    results = run_paths([SUITE / test_set / scenario], [], RunOptions(logs_dir=tmp_path))
    assert [(r.name, r.status) for r in results] == [(name, "PASS")], \
        f"{results[0].status}: {results[0].reason} (task logs: {tmp_path})"
