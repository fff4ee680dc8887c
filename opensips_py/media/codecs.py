"""Codec lists of a media and rtpengine's codec manipulation: strip, offer, transcode, mask, accept.

rtpengine keeps per media a *codec store*: the payload types in preference order, indexed by number and by
name (``opus``, ``opus/48000/2``, ``opus/48000/2`` with channels spelled out). An offer copies the offerer's
list to both sides and applies the ``codec`` flags to the recipient's side; supplemental codecs
(telephone-event, CN) are then added or removed per clock rate; finally a *handler* is chosen for every
codec the relay may receive: passthrough when the other side takes the same codec, transcoding
otherwise. The answer's codec list for the offerer is built from those handlers. This module ports that
logic (daemon/codec.c: codec_store_*, codec_tracker_update, codec_handlers_update, codec_store_answer)
so the SDP we write lists the same codecs in the same order as rtpengine.

What transcoding means for the *media* is a later step (see docs/media.md): here a media only records
that a codec's handler transcodes, which is what the SDP needs; `TranscodeSeam` is where the media work
will plug in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol


@dataclass(frozen=True)
class CodecDef:
    """A codec the relay can encode and decode (rtpengine's codec_def_t, 'fully supported' ones)."""

    name: str
    clock_rate: int
    channels: int
    ptime: int
    fmtp: str | None = None
    supplemental: bool = False
    dtmf: bool = False
    rfc_payload_type: int = -1
    media_type: str = "audio"


# The codecs rtpengine 10.5 (Debian's build) encodes and decodes ("fully supported" in rtpengine
# --codecs). The set shapes the SDP: codecs in it can be offered for transcoding, and once a media
# transcodes, codecs outside it are dropped. Our transcoding backend (a later issue) has to cover the
# same set, or this table shrinks and the SDP differs from rtpengine's there.
CODEC_DEFS: dict[str, CodecDef] = {d.name.lower(): d for d in (
    CodecDef("PCMA", 8000, 1, 20, rfc_payload_type=8),
    CodecDef("PCMU", 8000, 1, 20, rfc_payload_type=0),
    CodecDef("G723", 8000, 1, 30, rfc_payload_type=4),
    CodecDef("G722", 8000, 1, 20, rfc_payload_type=9),
    CodecDef("G729", 8000, 1, 20, fmtp="annexb=no", rfc_payload_type=18),
    CodecDef("G729a", 8000, 1, 20),
    CodecDef("speex", 16000, 1, 20),
    CodecDef("GSM", 8000, 1, 20, rfc_payload_type=3),
    CodecDef("opus", 48000, 2, 20),
    CodecDef("telephone-event", 8000, 1, 0, fmtp="0-15", supplemental=True, dtmf=True),
    CodecDef("CN", 8000, 1, 20, supplemental=True, rfc_payload_type=13),
)}

SUPPLEMENTAL_CODECS = ("telephone-event", "CN")


def _rfc(pt: int, name: str, rate: int, channels: int = 1, ptime: int = 20) -> tuple[int, str, int, int, int]:
    return (pt, name, rate, channels, ptime)


# RFC 3551 static payload types (lib/rtplib.c rfc_rtp_payload_types).
RFC_PAYLOAD_TYPES: dict[int, tuple[int, str, int, int, int]] = {row[0]: row for row in (
    _rfc(0, "PCMU", 8000), _rfc(3, "GSM", 8000), _rfc(4, "G723", 8000, 1, 30), _rfc(5, "DVI4", 8000),
    _rfc(6, "DVI4", 16000), _rfc(7, "LPC", 8000), _rfc(8, "PCMA", 8000), _rfc(9, "G722", 8000),
    _rfc(10, "L16", 44100), _rfc(11, "L16", 44100, 2), _rfc(12, "QCELP", 8000), _rfc(13, "CN", 8000),
    _rfc(14, "MPA", 90000), _rfc(15, "G728", 8000), _rfc(16, "DVI4", 11025), _rfc(17, "DVI4", 22050),
    _rfc(18, "G729", 8000), _rfc(25, "CelB", 90000), _rfc(26, "JPEG", 90000), _rfc(28, "nv", 90000),
    _rfc(31, "H261", 90000), _rfc(32, "MPV", 90000), _rfc(33, "MP2T", 90000), _rfc(34, "H263", 90000),
)}


def find_codec_def(encoding: str, media_type: str | None = "audio") -> CodecDef | None:
    codec_def = CODEC_DEFS.get(encoding.lower())
    if codec_def is None:
        return None
    if media_type and codec_def.media_type != media_type:
        return None
    return codec_def


@dataclass(eq=False)
class PayloadType:
    """One RTP payload type as listed in an m= line with its rtpmap/fmtp/rtcp-fb."""

    payload_type: int
    encoding: str = ""
    clock_rate: int = 0
    channels: int = 0
    format_parameters: str | None = None
    rtcp_fb: list[str] = field(default_factory=list)
    ptime: int = 0
    bitrate: int = 0
    codec_opts: str = ""
    for_transcoding: bool = False
    accepted: bool = False
    codec_def: CodecDef | None = None

    @property
    def encoding_with_params(self) -> str:
        if self.channels > 1:
            return f"{self.encoding}/{self.clock_rate}/{self.channels}"
        return f"{self.encoding}/{self.clock_rate}"

    @property
    def encoding_with_full_params(self) -> str:
        return f"{self.encoding}/{self.clock_rate}/{self.channels}"

    @property
    def supplemental(self) -> bool:
        return self.codec_def is not None and self.codec_def.supplemental

    def names(self) -> tuple[str, str, str]:
        return (self.encoding, self.encoding_with_params, self.encoding_with_full_params)

    def copy(self) -> "PayloadType":
        return PayloadType(self.payload_type, self.encoding, self.clock_rate, self.channels,
                           self.format_parameters, list(self.rtcp_fb), self.ptime, self.bitrate,
                           self.codec_opts, self.for_transcoding, self.accepted, self.codec_def)

    def init(self, media_type: str | None) -> "PayloadType":
        """Fill defaults from the codec definition (rtpengine codec_init_payload_type)."""
        if self.codec_def is None:
            self.codec_def = find_codec_def(self.encoding, media_type)
        codec_def = self.codec_def
        if codec_def is not None:
            if not self.clock_rate:
                self.clock_rate = codec_def.clock_rate
            if not self.channels:
                self.channels = codec_def.channels
            if self.ptime <= 0:
                self.ptime = codec_def.ptime
            if self.format_parameters is None and codec_def.fmtp:
                self.format_parameters = codec_def.fmtp
            if codec_def.name == "opus":
                self._opus_init()
            if self.payload_type == -1 and codec_def.rfc_payload_type >= 0:
                rfc = RFC_PAYLOAD_TYPES.get(codec_def.rfc_payload_type)
                if rfc and self.clock_rate in (0, rfc[2]) and self.channels in (0, rfc[3]):
                    self.payload_type = rfc[0]
        return self

    def _opus_init(self) -> None:
        self.clock_rate = 48000
        if self.ptime not in (5, 10, 20, 40, 60):
            for limit, value in ((10, 5), (20, 10), (40, 20), (60, 40)):
                if self.ptime < limit:
                    self.ptime = value
                    break
            else:
                self.ptime = 60
        if self.bitrate:
            if self.bitrate < 6000:
                self.bitrate *= 1000
        else:
            self.bitrate = {1: 24000, 2: 32000}.get(self.channels, 64000)


def same_codec(a: PayloadType, b: PayloadType) -> bool:
    """rtpengine's rtp_payload_type_cmp_nf == 0: same number, clock rate, channels and name."""
    return (a.payload_type == b.payload_type and a.clock_rate == b.clock_rate
            and a.channels == b.channels and a.encoding.lower() == b.encoding.lower())


def same_format(a: PayloadType, b: PayloadType) -> bool:
    """rtp_payload_type_cmp == 0: same codec and, for codecs we know, the same fmtp."""
    if not same_codec(a, b):
        return False
    if a.codec_def is None:
        return True
    return (a.format_parameters or "") == (b.format_parameters or "")


def make_payload_type(spec: str, media_type: str | None) -> PayloadType | None:
    """A payload type from a codec spec ``name[/clock[/channels[/bitrate[/ptime[/fmtp[/opts]]]]]]``."""
    parts = spec.split("/")
    if not parts[0]:
        return None
    parts += [""] * (7 - len(parts))

    def number(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            return 0

    clock_rate, channels = number(parts[1]), number(parts[2])
    if clock_rate and not channels:
        channels = 1
    pt = PayloadType(-1, parts[0], clock_rate, channels, parts[5] or None, [], number(parts[4]),
                     number(parts[3]), parts[6])
    return pt.init(media_type)


class CodecStore:
    """The ordered payload types of one media, indexed by number and by name."""

    def __init__(self, media_type: str | None = "audio") -> None:
        self.media_type = media_type
        self.prefs: list[PayloadType] = []
        self.by_number: dict[int, PayloadType] = {}
        self.strip_all = False
        self.strip_full = False
        # codec tracker: clock rates whose codecs were touched by flags, or everything
        self.touched: set[int] = set()
        self.all_touched = False

    # -- basic list operations --------------------------------------------------------------------
    def __iter__(self):
        return iter(self.prefs)

    def __len__(self) -> int:
        return len(self.prefs)

    def numbers_for(self, name: str) -> list[int]:
        """Payload type numbers matching a codec name (any of the three spellings, case-insensitive)."""
        wanted = name.lower()
        return [pt.payload_type for pt in self.prefs
                if wanted in (n.lower() for n in pt.names())]

    def _supp_index(self) -> int:
        """Position before the first supplemental codec (where rtpengine appends 'in order')."""
        for index, pt in enumerate(self.prefs):
            if pt.supplemental:
                return index
        return len(self.prefs)

    def add_raw(self, pt: PayloadType, in_order: bool = False) -> None:
        if pt.codec_def is None:
            pt.codec_def = find_codec_def(pt.encoding, self.media_type)
        index = self._supp_index() if in_order else len(self.prefs)
        self.prefs.insert(index, pt)
        self.by_number[pt.payload_type] = pt

    def add_copy(self, pt: PayloadType, in_order: bool = False) -> None:
        self.add_raw(pt.copy(), in_order)

    def remove(self, pt: PayloadType) -> None:
        self.prefs.remove(pt)
        if self.by_number.get(pt.payload_type) is pt:
            del self.by_number[pt.payload_type]

    def touch(self, pt: PayloadType) -> None:
        if pt.supplemental:
            self.all_touched = True
        else:
            self.touched.add(pt.clock_rate)

    def is_touched(self, pt: PayloadType) -> bool:
        return self.all_touched or pt.clock_rate in self.touched

    def reset(self) -> "CodecStore":
        """Move everything into a new store (rtpengine codec_store_move) and start this one fresh."""
        old = CodecStore(self.media_type)
        old.prefs, old.by_number = self.prefs, self.by_number
        old.strip_all, old.strip_full = self.strip_all, self.strip_full
        old.touched, old.all_touched = self.touched, self.all_touched
        self.prefs, self.by_number = [], {}
        self.strip_all = self.strip_full = False
        self.touched, self.all_touched = set(), False
        return old

    # -- the operations offers and answers apply ----------------------------------------------
    def populate(self, src: "CodecStore", answer_only: bool = False) -> None:
        """Take `src`'s list; in an answer only codecs we offered survive (codec_store_populate)."""
        orig = self.reset()
        for pt in src.prefs:
            orig_pt = orig.by_number.get(pt.payload_type)
            if answer_only and orig_pt is None:
                continue
            copy = pt.copy()
            if orig_pt is not None:
                copy.ptime = orig_pt.ptime
                copy.for_transcoding = orig_pt.for_transcoding
                copy.accepted = orig_pt.accepted
                copy.bitrate = orig_pt.bitrate
                copy.codec_opts = orig_pt.codec_opts
                if copy.for_transcoding:
                    self.touch(copy)
            self.add_raw(copy)

    def populate_reuse(self, src: "CodecStore", answer_only: bool = False) -> None:
        """Keep the codecs we had, add new ones at the end, drop those `src` no longer lists."""
        for pt in src.prefs:
            if pt.payload_type not in self.by_number and not answer_only:
                self.add_copy(pt)
        for pt in list(self.prefs):
            if pt.payload_type not in src.by_number:
                self.remove(pt)

    def check_empty(self, src: "CodecStore") -> None:
        """Stripping everything is a usage error: restore the original list (codec_store_check_empty)."""
        if not self.prefs:
            self.populate(src)

    def strip(self, names: Iterable[str], except_: set[str] | None = None) -> None:
        excepted = {name.lower() for name in except_ or ()}
        for name in names:
            if name in ("all", "full"):
                if name == "all":
                    self.strip_all = True
                else:
                    self.strip_full = True
                for pt in list(self.prefs):
                    if any(n.lower() in excepted for n in pt.names()):
                        continue
                    self.touch(pt)
                    self.remove(pt)
                continue
            for number in self.numbers_for(name):
                pt = self.by_number.get(number)
                if pt is not None and pt in self.prefs:
                    self.touch(pt)
                    self.remove(pt)

    def offer(self, names: Iterable[str], orig: "CodecStore") -> None:
        """Re-add stripped codecs the offerer did list, in the given order (codec_store_offer)."""
        for name in names:
            if self.numbers_for(name):
                continue
            for number in orig.numbers_for(name):
                orig_pt = orig.by_number.get(number)
                if orig_pt is None or number in self.by_number:
                    continue
                self.touch(orig_pt)
                self.add_copy(orig_pt, in_order=True)

    def transcode(self, names: Iterable[str], orig: "CodecStore", other: "CodecStore | None" = None) -> None:
        """Add codecs the offerer did not list, marked for transcoding (codec_store_transcode)."""
        for name in names:
            if self.numbers_for(name):
                continue
            orig_numbers = orig.numbers_for(name)
            if not orig_numbers or self.strip_full:
                pt = make_payload_type(name, self.media_type)
                if pt is None or pt.codec_def is None:
                    continue
                pt.payload_type = unused_pt_number(pt, self, other, orig)
                if pt.payload_type < 0:
                    continue
                pt.for_transcoding = True
                self.touch(pt)
                self.add_raw(pt, in_order=True)
                continue
            for number in orig_numbers:
                orig_pt = orig.by_number.get(number)
                if orig_pt is None or number in self.by_number:
                    continue
                self.touch(orig_pt)
                self.add_copy(orig_pt, in_order=True)

    def accept(self, names: Iterable[str], orig: "CodecStore | None") -> None:
        """Mark codecs as accepted for transcoding (codec_store_accept; also used for consume)."""
        for name in names:
            if name in ("all", "full"):
                targets = list(self.prefs)
            else:
                numbers = self.numbers_for(name)
                if not numbers and orig is not None:
                    for number in orig.numbers_for(name):
                        orig_pt = orig.by_number.get(number)
                        if orig_pt is None or number in self.by_number:
                            continue
                        self.touch(orig_pt)
                        self.add_copy(orig_pt, in_order=True)
                    numbers = self.numbers_for(name)
                targets = [self.by_number[n] for n in numbers if n in self.by_number]
            for pt in targets:
                pt.for_transcoding = True
                pt.accepted = True
                self.touch(pt)

    def track(self, names: Iterable[str]) -> None:
        """Mark codecs as touched without changing the list (used for mask on the offerer's side)."""
        for name in names:
            if name in ("all", "full"):
                self.all_touched = True
                continue
            for number in self.numbers_for(name):
                self.touch(self.by_number[number])

    def update_supplemental(self) -> None:
        """Add/remove telephone-event and CN per clock rate of the real codecs (codec_tracker_update)."""
        clock_rates: list[int] = []
        supp: dict[str, dict[int, list[PayloadType]]] = {}
        for pt in self.prefs:
            if not pt.supplemental:
                if pt.clock_rate not in clock_rates:
                    clock_rates.append(pt.clock_rate)
            else:
                assert pt.codec_def is not None
                supp.setdefault(pt.codec_def.name, {}).setdefault(pt.clock_rate, []).append(pt)
        for supp_name, by_rate in supp.items():
            for rate in sorted(clock_rates):
                if rate in by_rate:
                    del by_rate[rate]
                    continue
                if not self.all_touched and rate not in self.touched:
                    continue
                pt = make_payload_type(f"{supp_name}/{rate}", self.media_type)
                if pt is None or pt.codec_def is None:
                    continue
                pt.payload_type = unused_pt_number(pt, self, None, None)
                if pt.payload_type < 0:
                    continue
                pt.for_transcoding = True
                self.add_raw(pt, in_order=True)
            for rate, stray in by_rate.items():
                if not self.all_touched and rate not in self.touched:
                    continue
                for pt in stray:
                    if pt in self.prefs:
                        self.remove(pt)


def unused_pt_number(pt: PayloadType | None, store: CodecStore, other: CodecStore | None,
                     extra: CodecStore | None) -> int:
    """A payload type number free in all given stores (rtpengine __unused_pt_number)."""
    number = pt.payload_type if pt is not None else -1
    if number < 0:
        number = 96
    while True:
        match = store.by_number.get(number)
        if match is None and other is not None:
            match = other.by_number.get(number)
        if match is None and extra is not None:
            match = extra.by_number.get(number)
        if match is None:
            return number
        if pt is not None and same_codec(pt, match):
            return number
        number += 1
        if number < 96:
            number = 96
        elif number >= 128:
            return -1


def payload_types_from_sdp(formats: list[str], rtpmaps: dict[int, tuple[str, int, int]],
                           fmtps: dict[int, str], rtcp_fbs: dict[int, list[str]], ptime: int,
                           media_type: str) -> CodecStore | None:
    """The codec store of a received m= line (rtpengine __rtp_payload_types); None if a format is bad."""
    store = CodecStore(media_type)
    for text in formats:
        try:
            number = int(text)
        except ValueError:
            return None
        if not 0 <= number <= 127:
            return None
        pt = PayloadType(number)
        rfc = RFC_PAYLOAD_TYPES.get(number)
        if number in rtpmaps:
            pt.encoding, pt.clock_rate, pt.channels = rtpmaps[number]
        elif rfc is not None:
            pt.encoding, pt.clock_rate, pt.channels, pt.ptime = rfc[1], rfc[2], rfc[3], rfc[4]
        pt.format_parameters = fmtps.get(number, "")
        pt.rtcp_fb = list(rtcp_fbs.get(number, ()))
        if ptime:
            pt.ptime = ptime
        elif not pt.ptime and rfc is not None:
            pt.ptime = rfc[4]
        pt.init(media_type)
        store.add_raw(pt)
    return store


# -- codec handlers: what the relay does with each codec it receives --------------------------------

@dataclass(eq=False)
class CodecHandler:
    """For one received payload type: pass it through (dest is the source) or transcode into `dest`."""

    source: PayloadType
    dest: PayloadType
    passthrough: bool = True
    dtmf_payload_type: int = -1
    cn_payload_type: int = -1


class TranscodeSeam(Protocol):
    """Where transcoding plugs into a stream later: decode `source`, encode `dest` (not acting yet)."""

    def handlers_changed(self, handlers: dict[int, CodecHandler]) -> None: ...


def _supp_sinks(store: CodecStore) -> dict[str, dict[int, PayloadType]]:
    sinks: dict[str, dict[int, PayloadType]] = {name: {} for name in SUPPLEMENTAL_CODECS}
    for pt in store.prefs:
        if pt.supplemental:
            assert pt.codec_def is not None
            sinks[pt.codec_def.name].setdefault(pt.clock_rate, pt)
    return sinks


def _preferred_sink(store: CodecStore, media_ptime: int) -> PayloadType | None:
    preferred = None
    first_accepted = None
    for pt in store.prefs:
        if pt.codec_def is None:
            continue
        if pt.ptime <= 0:
            pt.ptime = pt.codec_def.ptime
        if media_ptime > 0:
            pt.ptime = media_ptime
        if preferred is None and not pt.supplemental:
            preferred = pt
        if pt.accepted and first_accepted is None and not pt.supplemental:
            first_accepted = pt
    return first_accepted or preferred


def update_handlers(receiver: CodecStore, sink: CodecStore, receiver_ptime: int, sink_ptime: int,
                    ptime_override: bool, second_pass: bool, force_transcoding: bool = False
                    ) -> tuple[dict[int, CodecHandler], bool]:
    """Choose passthrough or transcoding per received codec (rtpengine codec_handlers_update).

    Returns the handlers by payload type and whether anything transcodes; when something does, codecs
    we cannot decode are removed from `receiver` (as rtpengine does).
    """
    handlers: dict[int, CodecHandler] = {}
    supp_sinks = _supp_sinks(sink)
    preferred = _preferred_sink(sink, sink_ptime)
    supp_recvs = _supp_sinks(receiver)
    transcoding = False
    for pt in receiver.prefs:
        if pt.codec_def is not None:
            if pt.ptime <= 0:
                pt.ptime = pt.codec_def.ptime
        if receiver_ptime > 0:
            pt.ptime = receiver_ptime
        if pt.codec_def is None:
            handlers[pt.payload_type] = CodecHandler(pt, pt)
            continue
        recv_dtmf = supp_recvs["telephone-event"].get(pt.clock_rate)
        recv_cn = supp_recvs["CN"].get(pt.clock_rate)
        sink_pt = sink.by_number.get(pt.payload_type)
        if sink_pt is not None and not same_format(pt, sink_pt):
            sink_pt = None
        if sink_pt is None:
            for number in sink.numbers_for(pt.encoding):
                candidate = sink.by_number.get(number)
                if candidate is not None and candidate.clock_rate == pt.clock_rate \
                        and candidate.channels == pt.channels:
                    sink_pt = candidate
                    break
        if sink_pt is not None and not pt.supplemental:
            if preferred is not None and preferred.for_transcoding:
                sink_pt = preferred
        if sink_pt is None:
            sink_pt = preferred
        if sink_pt is None:
            handlers[pt.payload_type] = CodecHandler(
                pt, pt, True, recv_dtmf.payload_type if recv_dtmf else -1,
                recv_cn.payload_type if recv_cn else -1)
            continue
        sink_dtmf = supp_sinks["telephone-event"].get(sink_pt.clock_rate)
        sink_cn = supp_sinks["CN"].get(sink_pt.clock_rate)
        if second_pass:
            if sink_dtmf is not None and recv_dtmf is None and not sink_dtmf.for_transcoding:
                sink_dtmf = None
            if sink_cn is not None and recv_cn is None and not sink_cn.for_transcoding:
                sink_cn = None
        pcm_dtmf_detect = (not pt.supplemental and recv_dtmf is None and sink_dtmf is not None
                           and sink_dtmf.for_transcoding)
        must_transcode = not same_codec(pt, sink_pt)
        if not must_transcode and not pt.supplemental:
            if sink_pt.ptime and pt.ptime and sink_pt.ptime != pt.ptime and ptime_override:
                must_transcode = True
            elif force_transcoding or pcm_dtmf_detect:
                must_transcode = True
            elif recv_dtmf is not None and recv_dtmf.for_transcoding and sink_dtmf is None:
                must_transcode = True
            elif recv_cn is None and sink_cn is not None and sink_cn.for_transcoding:
                must_transcode = True
            elif recv_cn is not None and recv_cn.for_transcoding and sink_cn is None:
                must_transcode = True
        handler = CodecHandler(pt, pt if not must_transcode else sink_pt, not must_transcode,
                               sink_dtmf.payload_type if sink_dtmf else -1,
                               sink_cn.payload_type if sink_cn else -1)
        handlers[pt.payload_type] = handler
        transcoding = transcoding or must_transcode
    if transcoding:
        for pt in list(receiver.prefs):
            if pt.codec_def is None:
                receiver.touch(pt)
                receiver.remove(pt)
                handlers.pop(pt.payload_type, None)
    return handlers, transcoding


def answer_codecs(dst: CodecStore, src: CodecStore, handlers: dict[int, CodecHandler],
                  single_codec: bool) -> None:
    """The offerer's codec list after an answer, from the answerer's codecs and their handlers
    (rtpengine codec_store_answer)."""
    orig = dst.reset()
    count = 0
    supplementals: list[PayloadType] = []
    for pt in src.prefs:
        add = not (single_codec and count >= 1)
        handler = handlers.get(pt.payload_type)
        is_supp = pt.supplemental
        if handler is None:
            if pt.for_transcoding:
                continue
            if add:
                if not is_supp:
                    count += 1
                dst.add_copy(pt)
            continue
        if is_supp:
            if pt.for_transcoding or dst.is_touched(pt) or src.is_touched(pt) or orig.is_touched(pt):
                continue
        if not add and not is_supp:
            continue
        if handler.dest.payload_type not in dst.by_number:
            dst.add_copy(pt if handler.passthrough else handler.dest)
            if not is_supp:
                count += 1
        if handler.cn_payload_type != -1 and handler.cn_payload_type in orig.by_number:
            supplementals.append(orig.by_number[handler.cn_payload_type])
        if handler.dtmf_payload_type != -1 and handler.dtmf_payload_type in orig.by_number:
            supplementals.append(orig.by_number[handler.dtmf_payload_type])
    for pt in supplementals:
        if pt.payload_type in dst.by_number:
            continue
        dst.add_copy(pt)
