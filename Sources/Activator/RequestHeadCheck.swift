import NIOHTTP1

/// What a request head must be before it is routed: bounded, unambiguous about its host, and with a
/// path that means what it says. A request that fails is answered at once and never reaches a replica.
///
/// Limits as nginx's defaults make them (a header line over 8 KiB, or 32 KiB of headers in all, is
/// refused), with RFC 9110/9112's status codes: 431 for headers, 414 for the request target, 400 for
/// an ambiguous host, 405 for CONNECT.
struct RequestHeadCheck {
    static let maxTargetBytes = 8 * 1024
    static let maxFieldBytes = 8 * 1024
    static let maxHeaderBytes = 32 * 1024
    static let maxFields = 100

    struct Refusal: Equatable {
        var status: HTTPResponseStatus
        var message: String
        /// The request's end cannot be found, so neither can the next request's start: close after answering.
        var closesConnection = false
    }

    /// Nil when the head may be routed.
    static func refusal(for head: HTTPRequestHead) -> Refusal? {
        if head.uri.utf8.count > maxTargetBytes {
            return Refusal(status: .uriTooLong, message: "the request target is longer than \(maxTargetBytes) bytes")
        }
        if head.method == .CONNECT {
            return Refusal(status: .methodNotAllowed, message: "the activator does not tunnel CONNECT requests")
        }
        var hosts = 0
        var host: Substring = ""
        var total = 0
        var fields = 0
        var codings: [String] = []
        for (name, value) in head.headers {
            fields += 1
            let size = name.utf8.count + value.utf8.count + 4
            total += size
            if size > maxFieldBytes {
                return Refusal(status: .requestHeaderFieldsTooLarge, message: "the header \(name.prefix(64)) is larger than \(maxFieldBytes) bytes")
            }
            if isHost(name) {
                hosts += 1
                host = Substring(value)
            } else if name.utf8.count == 17, name.lowercased() == "transfer-encoding" {
                codings += value.split(separator: ",", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            }
        }
        if fields > maxFields {
            return Refusal(status: .requestHeaderFieldsTooLarge, message: "\(fields) header fields; at most \(maxFields) are accepted")
        }
        if total > maxHeaderBytes {
            return Refusal(status: .requestHeaderFieldsTooLarge, message: "\(total) bytes of header fields; at most \(maxHeaderBytes) are accepted")
        }
        if hosts > 1 {
            return Refusal(status: .badRequest, message: "more than one Host header (RFC 9112 §3.2)")
        }
        if !codings.isEmpty, codings.last != "chunked" || codings.filter({ $0 == "chunked" }).count != 1 || codings.contains("") {
            // RFC 9112 §6.3: the body's length cannot be known. Forwarded, the replica could read its
            // end elsewhere than we do, and take the rest of the body for another request.
            return Refusal(status: .badRequest, message: "Transfer-Encoding must list its codings once each and end in chunked, got \"\(codings.joined(separator: ", "))\"",
                           closesConnection: true)
        }
        if hosts == 0, head.version.minor >= 1 {
            return Refusal(status: .badRequest, message: "an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)")
        }
        if let authority = absoluteFormAuthority(head.uri), hosts == 1, authority.lowercased() != host.lowercased() {
            return Refusal(status: .badRequest, message: "the Host header \"\(host)\" does not match the request target's \"\(authority)\"")
        }
        if hasDotSegment(head.uri) {
            return Refusal(status: .badRequest,
                           message: "the path has a dot-segment (/./ or /../, also percent-encoded); send the path it stands for")
        }
        return nil
    }

    /// Whether a field name is `Host` in any case, without making a lowercased copy of every name:
    /// this runs for every header of every request.
    static func isHost(_ name: String) -> Bool {
        var utf8 = name.utf8.makeIterator()
        for expected in "host".utf8 {
            guard let byte = utf8.next(), byte | 0x20 == expected else { return false }
        }
        return utf8.next() == nil
    }

    /// `example.com:8080` of `http://example.com:8080/x`; nil for an origin-form target (`/x`).
    static func absoluteFormAuthority(_ uri: String) -> Substring? {
        guard let first = uri.utf8.first, first != UInt8(ascii: "/") else { return nil }
        guard let scheme = uri.range(of: "://") else { return nil }
        let rest = uri[scheme.upperBound...]
        return rest[..<(rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex)]
    }

    /// Whether the path (before any query) has a `.` or `..` segment, literally or as `%2e`.
    static func hasDotSegment(_ uri: String) -> Bool {
        // The common case, a path with no dot and no percent sign, costs one pass over its bytes.
        var path = uri.utf8[...]
        if let query = path.firstIndex(of: UInt8(ascii: "?")) { path = path[..<query] }
        guard path.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "%") }) else { return false }
        let decoded = String(decoding: path, as: UTF8.self).replacing("%2e", with: ".").replacing("%2E", with: ".")
        return decoded.split(separator: "/", omittingEmptySubsequences: false).dropFirst().contains { $0 == "." || $0 == ".." }
    }
}
