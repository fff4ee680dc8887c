"""rtpproxy's Module: the control protocol client (V/VF, U, L, D, Q, P, S, R), node sets and their health,
the script functions and MI.

Behaviour from modules/rtpproxy/rtpproxy.c and rtpproxy_stream.c (3.4):
- Start-up (connect_rtpproxies): every node is probed with ``V`` (protocol 20040107 expected) and
  ``VF 20050322`` (must answer 1), then its optional capabilities (``VF <date>``). A node that does not
  answer, or answers wrong, is disabled for rtpproxy_disable_tout seconds (a warning, never a failed
  start: `rtpproxy_sock udp:localhost:12221` with nothing listening starts).
- A node that stops answering any command is disabled the same way and re-probed when its time comes,
  at the next selection (select_rtpp_node).
- Commands are blocking round trips (OpenSIPS's workers block the same way): rtpproxy_timeout seconds per
  try, rtpproxy_retr tries over UDP.
"""
from __future__ import annotations

import re
import time as _time
from typing import Any, Callable

from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.rtpproxy import EXPORTS
from opensips_py.modules.rtpproxy.nodes import (
    DISABLED_FOREVER, Node, NodeSet, Sets, SockParamError, pick_by_callid,
)
from opensips_py.modules.rtpproxy.sdp import Rewrite, SdpError, insert_marker, is_null, parse
from opensips_py.modules.rtpproxy.transport import ControlTransport
from opensips_py.sip import SIPParseError

SUP_CPROTOVER = 20040107
REQ_CPROTOVER = "20050322"
CAPABILITIES = {  # name -> the VF date that announces it (rtpproxy.h)
    "REPACK": "20071116", "CODECS": "20081102", "AUTOBRIDGE": "20090810", "NOTIFY": "20081224",
    "STATS": "20080403", "NOTIFY_WILD": "20150617", "STATS_EXTRA": "20150420", "TTL_CHANGE": "20170313",
    "RECORD": "20071218", "SUBCOMMAND": "20191015",
}
L_WARN, L_INFO, L_ERR = 1, 3, -1


def rtpp_error(reply: str | None) -> int:
    """rtpp_get_error(): 0 for a normal reply, the number of an ``E<n>`` reply, -1 for none."""
    if reply is None:
        return -1
    if not reply.startswith("E"):
        return 0
    try:
        return int(reply[1:].strip())
    except ValueError:
        return -1


class Module(ModuleBase):
    exports = EXPORTS

    # ================================================================================== start-up
    def init(self) -> None:
        self.started = self._now()
        timeout = 1.0
        text = self.param("rtpproxy_timeout")
        if text:
            try:
                timeout = float(str(text))
            except ValueError as exc:
                raise ModuleInitError(f"rtpproxy: bad rtpproxy_timeout {text!r}") from exc
        elif self.params.get("rtpproxy_tout"):
            timeout = max(self.int_param("rtpproxy_tout"), 0)
        self.disable_tout = self.int_param("rtpproxy_disable_tout")
        self.default_set = self.int_param("default_set")
        marker = str(self.param("nortpproxy_str") or "").rstrip("\r\n")
        self.nortpproxy = marker
        self.transport = ControlTransport(timeout, self.int_param("rtpproxy_retr"))
        self.sets = Sets()
        try:
            for value in self.param_values("rtpproxy_sock"):
                self.sets.add_value(str(value), self.default_set)
        except SockParamError as exc:
            raise ModuleInitError(f"rtpproxy: {exc}") from exc
        if self.param("db_url"):
            self._load_from_db()
        self.probe_all()

    def _load_from_db(self) -> None:
        from opensips_py.db import DatabaseError, open_database
        try:
            db = open_database(self.core, str(self.param("db_url")), "rtpproxy")
            rows = db.query(str(self.param("db_table")),
                            [str(self.param("rtpp_socket_col")), str(self.param("set_id_col"))])
        except DatabaseError as exc:
            raise ModuleInitError(f"rtpproxy: {exc}") from exc
        for row in rows:
            values = list(row.values())
            try:
                self.sets.add_value(f"{int(values[1])} == {values[0]}", self.default_set)
            except (SockParamError, ValueError, TypeError) as exc:
                raise ModuleInitError(f"rtpproxy: bad row {row}: {exc}") from exc

    def probe_all(self) -> None:
        """connect_rtpproxies(): every node tested now; the ones that fail start disabled."""
        for node in self.sets.nodes():
            node.disabled = self.test(node, False, True)

    def destroy(self) -> None:
        self.transport.close()

    def _now(self) -> float:
        now = getattr(self.core, "now", 0.0)
        return now if now else _time.time()

    def ticks(self) -> int:
        """get_ticks(): whole seconds since start."""
        return max(0, int(self._now() - self.started))

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, "rtpproxy")

    # ================================================================================== node health
    def send(self, node: Node, command: str) -> str | None:
        """send_rtpp_command(): the reply, or None after disabling the node that did not answer."""
        reply = self.transport.exchange(node, command)
        if reply is None:
            self._log(L_ERR, f"proxy <{node.url}> does not respond, disable it")
            node.disabled = True
            node.recheck_ticks = self.ticks() + self.disable_tout
        return reply

    def _check_capability(self, node: Node, date: str) -> int:
        reply = self.send(node, f"VF {date}")
        if reply is None:
            return -1
        if reply.startswith("E"):
            return 0
        try:
            return 1 if int(reply.split()[0]) == 1 else 0
        except (ValueError, IndexError):
            return 0

    def test(self, node: Node, is_disabled: bool, force: bool) -> bool:
        """rtpp_test(): True when the node is (still) disabled."""
        if node.recheck_ticks == DISABLED_FOREVER:
            return True
        if not force:
            if not is_disabled:
                return False
            if node.recheck_ticks > self.ticks():
                return True
        reply = self.send(node, "V")
        ok = False
        if reply is None:
            self._log(L_WARN, "can't get version of the RTP proxy")
        else:
            try:
                version = int(reply.split()[0])
            except (ValueError, IndexError):
                version = 0
            if version != SUP_CPROTOVER:
                self._log(L_WARN, f"unsupported version of RTP proxy <{node.url}> found: {SUP_CPROTOVER} "
                                  f"supported,{version} present")
            else:
                required = self._check_capability(node, REQ_CPROTOVER)
                if required == -1:
                    self._log(L_WARN, "RTP proxy went down during version query")
                elif required == 0:
                    self._log(L_WARN, f"of RTP proxy <{node.url}> doesn't support required protocol version"
                                      f"{REQ_CPROTOVER}")
                else:
                    ok = True
        if ok:
            self._log(L_INFO, f"rtp proxy <{node.url}> found, support for it {'re-' if not force else ''}"
                              f"enabled")
            node.caps = {name for name, date in CAPABILITIES.items() if self._check_capability(node, date) > 0}
            return False
        self._log(L_WARN, f"support for RTP proxy <{node.url}> has been disabled"
                          f"{'' if self.disable_tout < 0 else ' temporarily'}")
        if self.disable_tout >= 0:
            node.recheck_ticks = self.ticks() + self.disable_tout
        return True

    def select_node(self, ctx, call_id: str, node_set: NodeSet, sock_var, do_test: bool) -> Node | None:
        """select_rtpp_node(): the set's only node while it is up, else the weighted pick by Call-ID;
        disabled nodes whose time has come are probed again first."""
        nodes = node_set.nodes
        if not nodes:
            return None
        node: Node | None
        if len(nodes) == 1:
            node = nodes[0]
            if node.disabled and node.recheck_ticks <= self.ticks():
                node.disabled = self.test(node, True, False)
                if node.disabled:
                    node.recheck_ticks = self.ticks() + self.disable_tout
            if node.disabled:
                return None
        else:
            node = None
            for _attempt in range(len(nodes) + 2):  # bounded: each retry follows a node being disabled
                for candidate in nodes:
                    if candidate.disabled and candidate.recheck_ticks <= self.ticks():
                        candidate.disabled = self.test(candidate, True, False)
                        if candidate.disabled:
                            candidate.recheck_ticks = self.ticks() + self.disable_tout
                if all(n.disabled for n in nodes):
                    for candidate in nodes:  # no proxy up: force them all to be re-detected, once
                        candidate.disabled = self.test(candidate, True, True)
                node = pick_by_callid(call_id, nodes)
                if node is None:
                    return None
                if do_test:
                    node.disabled = self.test(node, node.disabled, False)
                    if node.disabled:
                        continue
                break
            else:
                return None
        if sock_var is not None and ctx is not None:
            sock_var.set(ctx, node.url)
        return node

    def node_set(self, set_id: int | None) -> NodeSet | None:
        wanted = self.default_set if set_id is None else set_id
        found = self.sets.get(wanted)
        if found is None:
            self._log(L_ERR, f"cannot find any available rtpproxy engine in set {wanted}")
        return found

    # ================================================================================== message bits
    @staticmethod
    def _dialog_ids(ctx) -> tuple[str, str, str] | None:
        msg = ctx.msg
        try:
            call_id = msg.call_id
            from_tag = msg.from_.tag if msg.from_ is not None else None
            to_tag = (msg.to.tag if msg.to is not None else None) or ""
        except SIPParseError:
            return None
        if not call_id or not from_tag:
            return None
        return call_id, from_tag, to_tag

    # ================================================================================== offer / answer
    def rtpproxy_offer(self, ctx, flags=None, ip_address=None, set_id=None, sock_var=None, ret_var=None,
                       body_var=None, bind_local=None) -> int:
        return self._offer_answer(ctx, flags, ip_address, set_id, sock_var, ret_var, body_var, offer=True)

    def rtpproxy_answer(self, ctx, flags=None, ip_address=None, set_id=None, sock_var=None, ret_var=None,
                        body_var=None, bind_local=None) -> int:
        return self._offer_answer(ctx, flags, ip_address, set_id, sock_var, ret_var, body_var, offer=False)

    def _offer_answer(self, ctx, flags, ip_address, set_id, sock_var, ret_var, body_var, *, offer: bool) -> int:
        """force_rtp_proxy(): the SDP of the message (or of body_var) goes through the rtpproxy."""
        msg = ctx.msg
        if msg is None:
            return -1
        if body_var is not None:
            value = body_var.get(ctx)
            if not isinstance(value, str):
                self._log(L_ERR, "could not retrieve body!")
                return -1
            bodies = [value]
        else:
            # the body as received, as OpenSIPS reads msg->body (its lumps are not visible)
            text = (msg.body or b"").decode("utf-8", "surrogateescape")
            content_type = (msg.header("Content-Type") or "").lower()
            if not text or "application/sdp" not in content_type:
                self._log(L_ERR, "Unable to parse body")
                return -1
            bodies = [text]
        ids = self._dialog_ids(ctx)
        if ids is None:
            self._log(L_ERR, "can't get Call-Id field / From tag")
            return -1
        node_set = self.node_set(set_id)
        if node_set is None:
            self._log(L_ERR, "cannot find RTPProxy set")
            return -1
        result = self._handle_body(ctx, bodies[0], ids, flags or "", ip_address, node_set, sock_var, ret_var,
                                   offer, body_var is not None)
        if isinstance(result, int):
            return result
        if body_var is not None:
            body_var.set(ctx, result)
        else:
            msg.set_body(result.encode("utf-8", "surrogateescape"))
        return 1

    def _handle_body(self, ctx, text: str, ids: tuple[str, str, str], flags: str, ip_address, node_set,
                     sock_var, ret_var, offer: bool, body_mode: bool) -> str | int:
        """rtpproxy_offer_answer(): the rewritten body, or a return code."""
        msg = ctx.msg
        call_id, from_tag, to_tag = ids
        opts, rep_opts, ttl_opts = [], [], ""
        asymmetric = lookup = force = real = orgip = commip = keep = False
        i = 0
        while i < len(flags):
            c = flags[i].lower()
            if c == "a":
                opts.append("A")
                asymmetric = real = True
            elif c == "d":  # DTMF catch: needs a notification socket (not supported here): digits skipped
                while i + 1 < len(flags) and flags[i + 1].isdigit():
                    i += 1
            elif c in "ie":
                opts.append(c.upper())
            elif c == "l":
                lookup = True
            elif c == "k":
                keep = True
            elif c == "f":
                force = True
            elif c == "r":
                real = True
            elif c == "c":
                commip = True
            elif c == "o":
                orgip = True
            elif c == "n":  # notifications: no notification socket here
                if i + 1 < len(flags) and flags[i + 1] == "<":
                    end = flags.find(">", i)
                    i = end if end > 0 else len(flags)
            elif c in "ws":
                opts.append("S")
            elif c == "t":
                ttl_opts += flags[i]
                while i + 1 < len(flags) and flags[i + 1].isdigit():
                    i += 1
                    ttl_opts += flags[i]
            elif c == "z":
                rep_opts.append("Z")
                while i + 1 < len(flags) and flags[i + 1].isdigit():
                    i += 1
                    rep_opts.append(flags[i])
            else:
                self._log(L_WARN, f"unknown option `{flags[i]}'")
                opts.append(flags[i])
            i += 1
        create = offer
        if lookup:
            if not to_tag:
                to_tag = "dummy"
            create = False
            if offer:
                from_tag, to_tag = to_tag, from_tag
        elif (not msg.is_request and offer) or (msg.is_request and not offer):
            if not to_tag:
                return -1
            from_tag, to_tag = to_tag, from_tag
        # the marker counts only at the start of a line (after a CR or LF), as in OpenSIPS
        proxied = bool(self.nortpproxy) and re.search("[\r\n]" + re.escape(self.nortpproxy), text) is not None
        if proxied and not force:
            return -1
        try:
            sessions = parse(text)
        except SdpError as exc:
            self._log(L_ERR, str(exc))
            return -1
        command = "U" if create else "L"
        rewrite = Rewrite(text)
        medianum = 0
        for session in sessions:
            common_altered = False
            origin = session.origin if orgip else None
            for media in session.media:
                medianum += 1
                if media.port == "0":
                    continue
                address = media.address
                if asymmetric or real or ctx.received is None:
                    new_ip, pf = address.ip, address.pf
                else:
                    new_ip = ctx.received.src_host
                    pf = 6 if ":" in new_ip else 4
                reply, node = self._media_command(ctx, call_id, from_tag, to_tag, new_ip, media, medianum, pf,
                                                  command, opts, rep_opts, ttl_opts, node_set, sock_var, offer)
                if reply is None:
                    return -1
                argv = reply.split()
                if not argv:
                    self._log(L_ERR, "no reply from rtp proxy")
                    return -1
                try:
                    port = int(argv[0])
                except ValueError:
                    port = 0
                if port <= 0 or port > 65535:
                    if port != 0 or not lookup:
                        self._log(L_ERR, f"incorrect port {port} in reply from rtp proxy")
                    return -1
                pf1 = 6 if len(argv) >= 3 and argv[2].startswith("6") else 4
                if is_null(address.ip, address.pf):
                    new_ip = "::" if pf1 == 6 else "0.0.0.0"
                else:
                    if ip_address:
                        new_ip = ip_address
                    elif node.advertised:
                        new_ip = node.advertised
                    elif len(argv) > 1:
                        new_ip = argv[1]
                    elif ctx.received is not None:
                        new_ip = ctx.received.socket.host
                        pf1 = 6 if ":" in new_ip else 4
                if ret_var is not None:
                    ret_var.set(ctx, f"{new_ip}:{port}")
                if keep:
                    continue
                new_port = str(port)
                rewrite.replace(media.port_span, new_port)
                if media.rtcp_span is not None:
                    rewrite.replace(media.rtcp_span, f"{port + 1} IN IP{pf1} {new_ip}")
                if media.own_c:
                    rewrite.address(address, new_ip, pf1, lump=not body_mode)
                elif not common_altered and (not body_mode or commip):
                    rewrite.address(address, new_ip, pf1, lump=not body_mode)
                    common_altered = True
                if commip and session.common is not None and not common_altered and not body_mode:
                    rewrite.address(session.common, new_ip, pf1, lump=not body_mode)
                    common_altered = True
                if origin is not None:
                    rewrite.address(origin, new_ip, pf1, lump=not body_mode)
                    origin = None
        out = rewrite.apply()
        if not proxied and self.nortpproxy and not keep:
            out = out + self.nortpproxy + "\r\n" if body_mode else insert_marker(out, self.nortpproxy)
        return out

    def _media_command(self, ctx, call_id, from_tag, to_tag, ip, media, medianum, pf, command, opts, rep_opts,
                       ttl_opts, node_set, sock_var, offer) -> tuple[str | None, Node | None]:
        """One U/L command for one medium; an offer moves to another node when this one fails."""
        for _attempt in range(len(node_set.nodes) + 1):
            node = self.select_node(ctx, call_id, node_set, sock_var, False)
            if node is None:
                self._log(L_ERR, "no available proxies")
                return None, None
            head = command + "".join(opts) + ("6" if pf == 6 else "")
            if rep_opts:
                if "REPACK" in node.caps:
                    head += "".join(rep_opts)
                else:
                    self._log(L_WARN, "re-packetization is requested but is not supported by the selected "
                                      "RTP proxy node")
            if media.payload_types and "CODECS" in node.caps:
                head += "c" + ",".join(p for p in media.payload_types if p.isdigit())
            if "TTL_CHANGE" in node.caps:
                head += ttl_opts
            text = f"{head} {call_id} {ip} {media.port} {from_tag};{medianum}"
            if to_tag:
                text += f" {to_tag};{medianum}"
            reply = self.send(node, text)
            if reply is None and command == "L":
                self._log(L_ERR, "cannot lookup a session on a different RTPProxy")
                return None, node
            error = rtpp_error(reply) if reply is not None else 0
            if reply is not None and error:
                if 7 <= error <= 10:
                    node.disabled = True
                    node.recheck_ticks = self.ticks() + self.disable_tout
                    reply = None
                else:
                    self._log(L_ERR, f"unhandled rtpproxy error: {error}")
                    return None, node
            if reply is not None or not offer:
                return reply, node
        return None, None

    def _session_node(self, ctx, call_id: str, set_id, sock_var, no_set_rc: int = -1):
        """The node a session command goes to (select_node() in the set), or the return code: `no_set_rc`
        when the set does not exist (node_set() logged it), -1 when it has no available node."""
        node_set = self.node_set(set_id)
        if node_set is None:
            return no_set_rc
        node = self.select_node(ctx, call_id, node_set, sock_var, True)
        if node is None:
            self._log(L_ERR, "no available proxies")
            return -1
        return node

    # ================================================================================== other commands
    def rtpproxy_unforce(self, ctx, set_id=None, sock_var=None) -> int:
        """D: delete the session (the to-tag too when known). 1 once sent, even without an answer."""
        if ctx.msg is None:
            return 1
        ids = self._dialog_ids(ctx)
        if ids is None:
            self._log(L_ERR, "can't get Call-Id field / From tag")
            return -1
        call_id, from_tag, to_tag = ids
        node = self._session_node(ctx, call_id, set_id, sock_var)
        if isinstance(node, int):
            return node
        self.send(node, f"D {call_id} {from_tag}" + (f" {to_tag}" if to_tag else ""))
        return 1

    def rtpproxy_stats(self, ctx, up_pvar, down_var, sent_var, fail_var, set_id=None, sock_var=None) -> int:
        """Q: the session's packet counters (ttl, upstream, downstream, relayed, dropped)."""
        ids = self._dialog_ids(ctx)
        if ids is None:
            return -1
        call_id, from_tag, to_tag = ids
        if not ctx.msg.is_request:
            from_tag, to_tag = to_tag, from_tag
        node = self._session_node(ctx, call_id, set_id, sock_var, no_set_rc=0)
        if isinstance(node, int):
            return node
        if "STATS" not in node.caps:
            self._log(L_ERR, "RTPProxy does not support statistics query!")
            return -1
        reply = self.send(node, f"Q {call_id} {from_tag};1 {to_tag};1")
        if reply is None:
            return -1
        error = rtpp_error(reply)
        if error == 8:
            self._log(L_ERR, "RTPProxy cannot find session!")
            return -8
        if error:
            self._log(L_ERR, f"RTPProxy error not handled: {reply}!")
            return -error
        fields = reply.split()
        if len(fields) < 5 or not all(f.isdigit() for f in fields[1:5]):
            self._log(L_ERR, f"invalid format for return {reply}")
            return -2
        for var, value in zip((up_pvar, down_var, sent_var, fail_var), fields[1:5]):
            if var is not None:
                var.set(ctx, int(value))
        return 1

    ALL_STATS = (("ttl", "npkts_ina", "npkts_ino", "nrelayed", "ndropped"),
                 ("rtpa_nsent", "rtpa_nrcvd", "rtpa_ndups", "rtpa_nlost", "rtpa_perrs"))

    def rtpproxy_all_stats(self, ctx, stats_avp, set_id=None, sock_var=None) -> int:
        """Q with the extra statistics names, five at a time; the ten values go into the AVP in order."""
        if getattr(stats_avp, "name", None) != "avp":
            self._log(L_ERR, "invalid pvar type - only AVPs are allowed!")
            return -1
        stack = ctx.avps.setdefault(stats_avp._arg(ctx), [])
        stack.clear()
        ids = self._dialog_ids(ctx)
        if ids is None:
            return -1
        call_id, from_tag, to_tag = ids
        if not ctx.msg.is_request:
            from_tag, to_tag = to_tag, from_tag
        node = self._session_node(ctx, call_id, set_id, sock_var, no_set_rc=0)
        if isinstance(node, int):
            return node
        if "STATS_EXTRA" not in node.caps:
            self._log(L_ERR, "RTPProxy does not support all statistics query!")
            return -1
        values: list[int] = []
        for chunk in self.ALL_STATS:
            reply = self.send(node, f"Q {call_id} {from_tag};1 {to_tag};1 {' '.join(chunk)}")
            if reply is None:
                return -2
            if rtpp_error(reply):
                self._log(L_ERR, f"RTPProxy error not handled: {reply}!")
                return -2
            try:
                values += [int(v) for v in reply.split()]
            except ValueError:
                self._log(L_ERR, f"invalid statistic value in {reply}")
                return -2
        stack.extend(values)  # add_avp_last(): in the order of the statistics
        if len(values) != 10:
            self._log(L_ERR, f"unexpected number of stats {len(values)} expected 10")
            return -2
        return 1

    def _stream_target(self, ctx, set_id, sock_var, to_caller: bool):
        """The node and the "call-id tags" part shared by P and S (stream/stop-stream towards one side), or
        None (no dialog ids, no To-tag towards the callee, no set, no node)."""
        ids = self._dialog_ids(ctx)
        if ids is None:
            return None
        call_id, from_tag, to_tag = ids
        if to_caller:
            tags = f"{from_tag};1" + (f" {to_tag};1" if to_tag else "")
        elif not to_tag:
            return None
        else:
            tags = f"{to_tag};1 {from_tag};1"
        node = self._session_node(ctx, call_id, set_id, sock_var)
        return None if isinstance(node, int) else (node, call_id, tags)

    def _stream(self, ctx, prompt: str, count: int, set_id, sock_var, to_caller: bool) -> int:
        target = self._stream_target(ctx, set_id, sock_var, to_caller)
        if target is None:
            return -1
        node, call_id, tags = target
        if "CODECS" not in node.caps:
            self._log(L_ERR, "required functionality is not supported by the version of the RTPproxy running "
                             "on the selected node.  Please upgrade the RTPproxy and try again.")
            return -1
        self.send(node, f"P{count} {call_id} {prompt} session {tags}")
        return 1

    def rtpproxy_stream2uac(self, ctx, prompt_name, count, set_id=None, sock_var=None) -> int:
        return self._stream(ctx, prompt_name, count, set_id, sock_var, True)

    def rtpproxy_stream2uas(self, ctx, prompt_name, count, set_id=None, sock_var=None) -> int:
        return self._stream(ctx, prompt_name, count, set_id, sock_var, False)

    def _stop_stream(self, ctx, set_id, sock_var, to_caller: bool) -> int:
        target = self._stream_target(ctx, set_id, sock_var, to_caller)
        if target is None:
            return -1
        node, call_id, tags = target
        self.send(node, f"S {call_id} {tags}")
        return 1

    def rtpproxy_stop_stream2uac(self, ctx, set_id=None, sock_var=None) -> int:
        return self._stop_stream(ctx, set_id, sock_var, True)

    def rtpproxy_stop_stream2uas(self, ctx, set_id=None, sock_var=None) -> int:
        return self._stop_stream(ctx, set_id, sock_var, False)

    def rtpproxy_start_recording(self, ctx, set_id=None, sock_var=None, flags=None, destination=None,
                                 mediastream=None) -> int:
        """R (record the session where rtpproxy records) or C (copy to `destination`, one command per
        stream: `mediastream`, else every stream of the SDP)."""
        ids = self._dialog_ids(ctx)
        if ids is None:
            self._log(L_ERR, "can't get Call-Id field / From tag")
            return -1
        call_id, from_tag, to_tag = ids
        if not ctx.msg.is_request:
            if not to_tag:
                return -1
            from_tag, to_tag = to_tag, from_tag
        node = self._session_node(ctx, call_id, set_id, sock_var)
        if isinstance(node, int):
            return node
        if "RECORD" not in node.caps:
            self._log(L_ERR, "RTPProxy does not support recording!")
            return -1
        head = flags or ""
        if not destination:
            self.send(node, f"R{head} {call_id} {from_tag}" + (f" {to_tag}" if to_tag else ""))
            return 1
        if mediastream and mediastream > 0:
            streams = [mediastream]
        else:
            try:
                text = (ctx.msg.body or b"").decode("utf-8", "surrogateescape")
                count = sum(len(s.media) for s in parse(text)) if text else 1
            except SdpError:
                self._log(L_WARN, "cannot parse message SDP! only record first stream")
                count = 1
            streams = list(range(1, max(count, 1) + 1))
        for n in streams:
            self.send(node, f"C{head} {call_id} {destination} {from_tag};{n}" + (f" {to_tag};{n}" if to_tag else ""))
        return 1

    # ================================================================================== MI
    def mi_commands(self) -> dict[str, Callable]:
        from opensips_py.mi import MIError

        def show(params: Any) -> list[dict[str, Any]]:
            return [{"Set": s.set_id, "Nodes": [
                {"url": n.url, "index": n.index, "disabled": int(n.disabled), "weight": n.weight,
                 "recheck_ticks": n.recheck_ticks} for n in s.nodes]} for s in self.sets.sets]

        def enable(params: Any) -> str:
            if isinstance(params, dict):
                url, flag, set_id = params.get("url"), params.get("enable"), params.get("setid")
            else:
                values = list(params or []) + [None, None, None]
                url, flag, set_id = values[0], values[1], values[2]
            if url is None or flag is None:
                raise MIError(-32602, "Invalid params")
            if not str(url):
                raise MIError(400, "Empty url")
            try:
                on = int(flag)
                wanted = None if set_id is None else int(set_id)
            except (TypeError, ValueError) as exc:
                raise MIError(-32602, "Invalid params") from exc
            found = False
            for node_set in self.sets.sets:
                if wanted is not None and node_set.set_id != wanted:
                    continue
                for node in node_set.nodes:
                    if node.url == str(url):
                        found = True
                        node.recheck_ticks = 0 if on else DISABLED_FOREVER
                        node.disabled = not on
            if not found:
                raise MIError(404, "RTP proxy not found")
            return "OK"

        def reload(params: Any) -> str:
            if not self.param("db_url"):
                raise MIError(500, "Failed to reload")  # OpenSIPS: only sets from a database reload
            self.transport.close()  # node indexes change: every socket is made afresh
            self.sets = Sets()
            for value in self.param_values("rtpproxy_sock"):
                self.sets.add_value(str(value), self.default_set)
            try:
                self._load_from_db()
            except ModuleInitError as exc:
                raise MIError(500, "Failed to reload") from exc
            self.probe_all()
            return "OK"

        show.mi_alias_4_0 = "rtpproxy:show"
        enable.mi_alias_4_0 = "rtpproxy:enable"
        reload.mi_alias_4_0 = "rtpproxy:reload"
        return {"rtpproxy_show": show, "rtpproxy_enable": enable, "rtpproxy_reload": reload}


__all__ = ["Module", "rtpp_error"]
