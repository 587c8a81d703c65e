@testable import Activator
import NIOCore
import NIOHTTP1
import Testing

extension RequestWriter {
    /// The bytes for `head`, written the way the handler writes them: by the writer made for it.
    static func head(for head: HTTPRequestHead, clientIP: String?) -> ByteBuffer {
        RequestWriter(for: head).head(head, clientIP: clientIP)
    }
}

/// The bytes a replica receives for a client's request.
@Suite struct RequestWriterTests {
    static func head(_ headers: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: .POST, uri: "/v2/models/m/infer?x=1", headers: HTTPHeaders(headers))
    }

    @Test func hopByHopHeadersStayBehindAndForwardingHeadersAreAdded() {
        let request = Self.head([("Host", "m.local"), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "s"),
                                 ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Expect", "100-continue"),
                                 ("X-Forwarded-For", "10.0.0.1"), ("Forwarded", "for=10.0.0.1"), ("Thaw-Proxied-By", "spoofed"),
                                 ("Content-Length", "2"), ("X-Kept", "yes")])
        let text = String(buffer: RequestWriter.head(for: request, clientIP: "127.0.0.1"))
        #expect(text == "POST /v2/models/m/infer?x=1 HTTP/1.1\r\n"
            + "Host: m.local\r\nContent-Length: 2\r\nX-Kept: yes\r\n"
            + "x-forwarded-for: 10.0.0.1, 127.0.0.1\r\n"
            + "forwarded: for=10.0.0.1, for=127.0.0.1;proto=http;host=\"m.local\"\r\n"
            + "x-forwarded-proto: http\r\nthaw-proxied-by: activator\r\n\r\n")
    }

    @Test func ipv6ClientsAreQuotedInForwardedAndOldClientsKeepTheirVersion() {
        let text = String(buffer: RequestWriter.head(for: Self.head([("Host", "m.local"), ("Connection", "keep-alive")], version: .http1_0), clientIP: "::1"))
        #expect(text.hasPrefix("POST /v2/models/m/infer?x=1 HTTP/1.0\r\n"))
        #expect(text.contains("forwarded: for=\"[::1]\";proto=http"))
        #expect(text.hasSuffix("connection: keep-alive\r\n\r\n"), "an HTTP/1.0 keep-alive client keeps the upstream hop alive too")
        let closing = String(buffer: RequestWriter.head(for: Self.head([("Host", "m.local")], version: .http1_0), clientIP: "::1"))
        #expect(!closing.contains("connection:"))
    }

    @Test func framingAndHostAreNeverDroppedByConnectionTokens() {
        let request = Self.head([("Host", "m.local"), ("Connection", "content-length, host, transfer-encoding, X-A"),
                                 ("Content-Length", "40"), ("X-A", "a")])
        let text = String(buffer: RequestWriter.head(for: request, clientIP: nil))
        #expect(text.contains("Content-Length: 40\r\n"), "dropping it would let the body be read as a second request")
        #expect(text.contains("Host: m.local\r\n"))
        #expect(!text.contains("X-A"))
    }

    @Test func hostsThatCannotBeQuotedSafelyAreLeftOutOfForwarded() {
        let text = String(buffer: RequestWriter.head(for: Self.head([("Host", "a\\")]), clientIP: "127.0.0.1"))
        #expect(text.contains("forwarded: for=127.0.0.1;proto=http\r\n"))
    }

    @Test func transferEncodingWinsOverContentLength() {
        let request = Self.head([("Host", "m.local"), ("Content-Length", "5"), ("Transfer-Encoding", "chunked")])
        let text = String(buffer: RequestWriter.head(for: request, clientIP: nil))
        #expect(text.contains("transfer-encoding: chunked\r\n"))
        #expect(!text.lowercased().contains("content-length"), "the two hops must agree on where the body ends")
        #expect(RequestWriter(for: request).chunked)
    }

    @Test func chunkedBodiesStayChunkedAndLengthBodiesPassAsTheyAre() {
        var written = ByteBuffer()
        let append: (ByteBuffer) -> Void = { piece in var piece = piece; written.writeBuffer(&piece) }
        let chunked = RequestWriter(for: Self.head([("Transfer-Encoding", "chunked")]))
        chunked.body(ByteBuffer(string: "hello world!"), into: append)
        chunked.body(ByteBuffer(), into: append)
        chunked.end(HTTPHeaders([("X-Trailer", "t")]), into: append)
        #expect(String(buffer: written) == "c\r\nhello world!\r\n0\r\nX-Trailer: t\r\n\r\n")

        written.clear()
        let sized = RequestWriter(for: Self.head([("Content-Length", "5")]))
        sized.body(ByteBuffer(string: "hello"), into: append)
        sized.end(nil, into: append)
        #expect(String(buffer: written) == "hello")
    }
}
