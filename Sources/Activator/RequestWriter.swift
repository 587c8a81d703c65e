import NIOCore
import NIOHTTP1
import TrafficStats

/// Writes a request for a replica straight into bytes: the head with this hop's header rules
/// applied (RFC 9110 §7.6.1), and the body framed as the client framed it.
///
/// Serialising here, rather than editing `HTTPHeaders` and handing the head to NIO's encoder,
/// costs one buffer per request instead of several copies and validations (`make bench-activator`).
struct RequestWriter {
    /// Hop-by-hop headers; `Expect` (the activator answers `100 Continue` itself once a replica is
    /// chosen); and `Thaw-Probe`, which only Thaw's own probes may send, so a client cannot make a
    /// sidecar answer its request as a readiness probe.
    private static let dropped: Set<String> = HopByHop.nameStrings.union(["expect", ProxyHeaders.probe.lowercased()])
    private static let proxiedBy = ProxyHeaders.proxiedBy.lowercased()
    private static let proxiedByLine = "\(proxiedBy): \(ProxyHeaders.activator)\r\n"
    /// Indexed by name length: true for the lengths of every name the loop below treats specially,
    /// so most headers skip lowercasing with one array read.
    private static let specialLength: [Bool] = {
        let lengths = dropped.union(["forwarded", "x-forwarded-for", "x-forwarded-proto", "content-length", "transfer-encoding", proxiedBy])
            .map(\.utf8.count)
        return (0...lengths.max()!).map(lengths.contains)
    }()

    /// True when the body goes on in chunked framing (the client sent it so).
    let chunked: Bool

    init(for head: HTTPRequestHead) {
        chunked = Self.isChunked(head)
    }

    /// A request with `Transfer-Encoding` is framed by it, whatever `Content-Length` says (RFC 9112
    /// §6.3); the parser has already de-chunked the body, so it is re-chunked for the replica and
    /// any `Content-Length` is dropped, so the two hops can never disagree on where it ends.
    private static func isChunked(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "transfer-encoding")
    }

    /// The head (the one this writer was made for) as the replica receives it. An HTTP/1.0 client's
    /// request goes on as HTTP/1.0, so the replica never answers it with a chunked body the client
    /// could not read.
    func head(_ head: HTTPRequestHead, clientIP: String?) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(512)
        out.writeString(head.method.rawValue)
        out.writeStaticString(" ")
        out.writeString(head.uri)
        out.writeStaticString(head.version == .http1_0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n")

        // Headers named in Connection are hop-by-hop too, except framing and Host.
        var named: Set<String> = []
        for token in head.headers[canonicalForm: "connection"] {
            let name = token.lowercased()
            if !HopByHop.neverDroppedStrings.contains(name) { named.insert(name) }
        }
        var forwardedFor: String?
        var forwarded: String?
        var hasProto = false
        if chunked {
            // The codings as the client sent them (e.g. `gzip, chunked`): only the chunking is redone.
            out.writeStaticString("transfer-encoding: ")
            out.writeString(head.headers["transfer-encoding"].joined(separator: ", "))
            out.writeStaticString("\r\n")
        }
        for (name, value) in head.headers {
            let length = name.utf8.count
            if length < Self.specialLength.count, Self.specialLength[length] {
                switch name.lowercased() {
                case let lower where Self.dropped.contains(lower) || lower == Self.proxiedBy:
                    continue
                case "content-length" where chunked, "transfer-encoding" where chunked:
                    continue
                case "forwarded":
                    forwarded = forwarded.map { $0 + ", " + value } ?? value
                    continue
                case "x-forwarded-for":
                    forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
                    continue
                case "x-forwarded-proto":
                    hasProto = true
                default:
                    break
                }
            }
            if !named.isEmpty, named.contains(name.lowercased()) { continue }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if let clientIP {
            out.writeStaticString("x-forwarded-for: ")
            if let forwardedFor {
                out.writeString(forwardedFor)
                out.writeStaticString(", ")
            }
            out.writeString(clientIP)
            out.writeStaticString("\r\nforwarded: ")
            if let forwarded {
                out.writeString(forwarded)
                out.writeStaticString(", ")
            }
            out.writeStaticString("for=")
            if clientIP.utf8.contains(UInt8(ascii: ":")) {
                out.writeString("\"[\(clientIP)]\"")
            } else {
                out.writeString(clientIP)
            }
            out.writeStaticString(";proto=http")
            if let host = head.headers.first(name: "host"), !host.isEmpty,
               !host.utf8.contains(where: { $0 < 0x21 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: ",") }) {
                out.writeStaticString(";host=\"")
                out.writeString(host)
                out.writeStaticString("\"")
            }
            out.writeStaticString("\r\n")
        } else {
            if let forwardedFor { out.writeString("x-forwarded-for: \(forwardedFor)\r\n") }
            if let forwarded { out.writeString("forwarded: \(forwarded)\r\n") }
        }
        if !hasProto { out.writeStaticString("x-forwarded-proto: http\r\n") }
        out.writeString(Self.proxiedByLine)
        // HTTP/1.0 closes by default: this hop asks for keep-alive itself.
        if head.version == .http1_0, head.isKeepAlive { out.writeStaticString("connection: keep-alive\r\n") }
        out.writeStaticString("\r\n")
        return out
    }

    /// One piece of body, framed for the replica.
    func body(_ body: ByteBuffer, into write: (ByteBuffer) -> Void) {
        guard chunked else {
            write(body)
            return
        }
        guard body.readableBytes > 0 else { return }
        write(ByteBuffer(string: String(body.readableBytes, radix: 16) + "\r\n"))
        write(body)
        write(ByteBuffer(staticString: "\r\n"))
    }

    /// The end of the body: the last chunk and any trailers, for a chunked body.
    func end(_ trailers: HTTPHeaders?, into write: (ByteBuffer) -> Void) {
        guard chunked else { return }
        var out = ByteBuffer(staticString: "0\r\n")
        for (name, value) in trailers ?? [:] { out.writeString("\(name): \(value)\r\n") }
        out.writeStaticString("\r\n")
        write(out)
    }
}
