"""The pieces of the rtpengine module (opensips_py/modules/rtpengine.py), each with one job.

    ng_command.py   the flags string and the message -> the ng dictionary (OpenSIPS's parse_flags and
                    rtpe_function_call_prepare)
    nodes.py        rtpengine_sock sets, weights, node choice by Call-ID, disabling and re-probing
    transport.py    the blocking ng exchange with one node: cookie, retries, timeout (swappable in tests)
    body.py         the SDP part of a message body, and its replacement through the message's lumps
    embedded.py     `opensips-py -f`: start our relay where a local rtpengine_sock has nothing listening
"""
