"""Run OpenSIPS's SIPssert scenarios against opensips-py on loopback, without docker (docs/sipssert.md).

`opensips-py sipssert [PATH…] [--junit FILE] [-k PATTERN]`: render scenario.yml like SIPssert (Jinja2
over the defines), copy each scenario to a temporary workspace with the suite's docker addresses mapped to
loopback ones, start its tasks as local processes in dependency order, and report PASS/FAIL/SKIP.
"""
