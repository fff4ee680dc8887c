"""SQLite databases with OpenSIPS's dr_*, domain and dbaliases tables (as scripts/sqlite/*-create.sql of 3.6
make them), and a proxy on the virtual network that loads drouting/domain/alias_db over them."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.runtime.support import Proxy

SCHEMA = """
CREATE TABLE version (table_name CHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT t_name_idx UNIQUE (table_name));
INSERT INTO version VALUES ('dr_gateways', 6), ('dr_rules', 4), ('dr_carriers', 3), ('dr_groups', 2),
    ('dr_partitions', 1), ('domain', 4), ('dbaliases', 2);
CREATE TABLE dr_gateways (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, gwid CHAR(64) NOT NULL,
    type INTEGER DEFAULT 0 NOT NULL, address CHAR(128) NOT NULL, strip INTEGER DEFAULT 0 NOT NULL,
    pri_prefix CHAR(16) DEFAULT NULL, attrs CHAR(255) DEFAULT NULL, probe_mode INTEGER DEFAULT 0 NOT NULL,
    state INTEGER DEFAULT 0 NOT NULL, socket CHAR(128) DEFAULT NULL, description CHAR(128) DEFAULT NULL,
    CONSTRAINT dr_gw_idx UNIQUE (gwid));
CREATE TABLE dr_rules (ruleid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, groupid CHAR(255) NOT NULL,
    prefix CHAR(64) NOT NULL, timerec CHAR(255) DEFAULT NULL, priority INTEGER DEFAULT 0 NOT NULL,
    routeid CHAR(255) DEFAULT NULL, gwlist CHAR(255), sort_alg CHAR(1) DEFAULT 'N' NOT NULL,
    sort_profile INTEGER DEFAULT NULL, attrs CHAR(255) DEFAULT NULL, description CHAR(128) DEFAULT NULL);
CREATE TABLE dr_carriers (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, carrierid CHAR(64) NOT NULL,
    gwlist CHAR(255) NOT NULL, flags INTEGER DEFAULT 0 NOT NULL, sort_alg CHAR(1) DEFAULT 'N' NOT NULL,
    state INTEGER DEFAULT 0 NOT NULL, attrs CHAR(255) DEFAULT NULL, description CHAR(128) DEFAULT NULL,
    CONSTRAINT dr_carrier_idx UNIQUE (carrierid));
CREATE TABLE dr_groups (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, username CHAR(64) NOT NULL,
    domain CHAR(128) DEFAULT NULL, groupid INTEGER DEFAULT 0 NOT NULL, description CHAR(128) DEFAULT NULL);
CREATE TABLE dr_partitions (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, partition_name CHAR(255) NOT NULL,
    db_url CHAR(255) NOT NULL, drd_table CHAR(255), drr_table CHAR(255), drg_table CHAR(255),
    drc_table CHAR(255), ruri_avp CHAR(255), gw_id_avp CHAR(255), gw_priprefix_avp CHAR(255),
    gw_sock_avp CHAR(255), rule_id_avp CHAR(255), rule_prefix_avp CHAR(255), carrier_id_avp CHAR(255));
CREATE TABLE domain (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, domain CHAR(64) DEFAULT '' NOT NULL,
    attrs CHAR(255) DEFAULT NULL, accept_subdomain INTEGER DEFAULT 0 NOT NULL,
    last_modified DATETIME DEFAULT '1900-01-01 00:00:01' NOT NULL, CONSTRAINT domain_domain_idx UNIQUE (domain));
CREATE TABLE dbaliases (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, alias_username CHAR(64) DEFAULT '' NOT NULL,
    alias_domain CHAR(64) DEFAULT '' NOT NULL, username CHAR(64) DEFAULT '' NOT NULL,
    domain CHAR(64) DEFAULT '' NOT NULL, CONSTRAINT dbaliases_alias_idx UNIQUE (alias_username, alias_domain));
"""


def database(path: Path, **tables: list[dict]) -> Path:
    """A database file with every table above and the given rows: database(p, dr_gateways=[{...}, …])."""
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    for table, rows in tables.items():
        for row in rows:
            con.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                        tuple(row.values()))
    con.commit()
    con.close()
    return path


def execute(path: Path, sql: str, *args) -> None:
    con = sqlite3.connect(path)
    con.execute(sql, args)
    con.commit()
    con.close()


def rows(path: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def proxy(db: Path, script: str, *, modules: tuple[str, ...] = ("drouting",), params: str = "",
          hosts: dict[str, str] | None = None) -> Proxy:
    head = 'loadmodule "tm.so"\nloadmodule "db_sqlite.so"\n'
    for name in modules:
        head += f'loadmodule "{name}.so"\nmodparam("{name}", "db_url", "sqlite://{db}")\n'
    return Proxy(head + params + script, hosts=hosts)


def gw(gwid: str, address: str, **extra) -> dict:
    return {"gwid": gwid, "address": address, **extra}


def rule(groupid: str, prefix: str, gwlist: str | None, **extra) -> dict:
    return {"groupid": groupid, "prefix": prefix, "gwlist": gwlist, **extra}
