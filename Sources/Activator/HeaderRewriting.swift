import NIOHTTP1
import TrafficStats

/// Header rules for a proxy hop (RFC 9110 §7.6.1): connection-specific headers stay on their own
/// hop; the client's address travels on in `X-Forwarded-For` and `Forwarded`.
enum HeaderRewriting {
    /// Hop-by-hop headers. `Transfer-Encoding` is not among them here: NIO's encoder re-frames each
    /// message itself, and a chunked body needs the header to stay chunked on the next hop.
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                                        "proxy-authenticate", "proxy-authorization"]

    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        // Most messages carry none: one pass to find out, before any copying or per-name scans.
        guard headers.contains(where: { isHopByHop($0.name) }) else { return }
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            let name = value.lowercased()
            if name != "close", name != "keep-alive", name != "transfer-encoding" { named.append(name) }
        }
        for name in hopByHop where headers.contains(name: name) { headers.remove(name: name) }
        for name in named { headers.remove(name: name) }
    }

    private static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2, 7, 10, 16, 18, 19: hopByHop.contains(name.lowercased())
        default: false
        }
    }

    /// The request head sent to a replica.
    static func forwardedRequest(_ head: HTTPRequestHead, clientIP: String?) -> HTTPRequestHead {
        var head = head
        // An HTTP/1.0 client's request goes on as HTTP/1.0, so the replica does not answer with a
        // chunked body that the client could not read; the response then passes through unchanged.
        if head.version != .http1_1, head.version != .http1_0 { head.version = .http1_1 }
        let keepAliveOneZero = head.version == .http1_0 && head.isKeepAlive
        removeHopByHop(&head.headers)
        // HTTP/1.0 closes by default: the upstream hop asks for keep-alive itself.
        if keepAliveOneZero { head.headers.add(name: "connection", value: "keep-alive") }
        if head.headers.contains(name: "expect") { head.headers.remove(name: "expect") }
        if let clientIP {
            if let existing = head.headers.first(name: "x-forwarded-for") {
                head.headers.replaceOrAdd(name: "x-forwarded-for", value: existing + ", " + clientIP)
            } else {
                head.headers.add(name: "x-forwarded-for", value: clientIP)
            }
            let node = clientIP.utf8.contains(UInt8(ascii: ":")) ? "\"[\(clientIP)]\"" : clientIP
            var forwarded = "for=\(node);proto=http"
            if let host = head.headers.first(name: "host"), !host.isEmpty, !host.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: ";") }) {
                forwarded += ";host=\"\(host)\""
            }
            if let existing = head.headers.first(name: "forwarded") {
                head.headers.replaceOrAdd(name: "forwarded", value: existing + ", " + forwarded)
            } else {
                head.headers.add(name: "forwarded", value: forwarded)
            }
        }
        if !head.headers.contains(name: "x-forwarded-proto") { head.headers.add(name: "x-forwarded-proto", value: "http") }
        head.headers.replaceOrAdd(name: ProxyHeaders.proxiedBy, value: ProxyHeaders.activator)
        return head
    }
}
