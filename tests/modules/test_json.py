"""json on the virtual network: $json documents parsed with :=, read back as integers, strings or json-c's
spaced/compact/pretty text, paths with keys, indexes, negative indexes and [] appends, deletion with NULL,
json_link sharing one object, json_merge (RFC 7386)."""
from __future__ import annotations

from opensips_py.modules.json import to_json_string
from tests.modules.auth_support import script_lines
from tests.runtime.support import Proxy, request


def run(script: str) -> list[str]:
    proxy = Proxy('loadmodule "json.so"\nroute {\n' + script + "\n    drop;\n}\n")
    proxy.send(request())
    return script_lines(proxy)


def test_parse_read_and_print_like_json_c():
    lines = run('''
    $json(doc) := "{\\"a\\": 1, \\"b\\": [1, \\"x/y\\"], \\"c\\": {\\"d\\": true}}";
    xlog("a=$json(doc/a) b1=$json(doc/b[1]) last=$json(doc/b[-1]) c=$json(doc/c)\\n");
    xlog("spaced=$json(doc)\\n");
    xlog("compact=$json_compact(doc)\\n");
    xlog("noescape=$json_compact_noescape(doc/b)\\n");
    $var(n) = $json(doc/a) + 1;
    if ($var(n) == 2) xlog("integer\\n");
    xlog("missing=$json(doc/zz) nodoc=$json(other/a)\\n");''')
    assert lines == ['a=1 b1=x/y last=x/y c={ "d": true }',
                     'spaced={ "a": 1, "b": [ 1, "x\\/y" ], "c": { "d": true } }',
                     'compact={"a":1,"b":[1,"x\\/y"],"c":{"d":true}}',
                     'noescape=[1,"x/y"]', "integer", "missing=<null> nodoc=<null>"]


def test_assign_append_replace_and_delete():
    lines = run('''
    $json(doc) := "{\\"list\\": []}";
    $json(doc/list[]) = 1;
    $json(doc/list[]) = "two";
    $json(doc/list[]) := "{\\"three\\": 3}";
    $json(doc/list[0]) = 10;
    $json(doc/name) = "x";
    $json(doc/gone) = 1;
    $json(doc/gone) = NULL;
    $json(doc/list[1]) = NULL;
    $json(doc/nope/deep) = 1;
    xlog("$json_compact(doc)\\n");''')
    assert lines[-1] == '{"list":[10,{"three":3}],"name":"x"}'


def test_json_link_shares_one_object_and_merge_patch():
    lines = run('''
    $json(a) := "{\\"inner\\": {\\"k\\": 1}}";
    json_link($json(b), $json(a/inner));
    $json(b/k) = 2;
    xlog("a=$json_compact(a)\\n");
    json_merge("{\\"x\\": 1, \\"y\\": {\\"z\\": 2}}", "{\\"x\\": null, \\"y\\": {\\"w\\": 3}}", $var(m));
    xlog("m=$var(m)\\n");''')
    assert lines == ['a={"inner":{"k":2}}', 'm={"y":{"z":2,"w":3}}']


def test_pretty_printing_indents_two_spaces():
    assert to_json_string({"a": [1, {}], "b": None}, pretty=True) == \
        '{\n  "a":[\n    1,\n    {\n    }\n  ],\n  "b":null\n}'
