@testable import Activator
import NIOCore
import Testing

/// The response framing the activator relies on to pass replies through as raw bytes.
@Suite struct ResponseScannerTests {
    /// Feeds `text` in pieces of `step` bytes; returns the head, the body bytes and whether it ended.
    static func scan(_ text: String, step: Int = .max, head: Bool = false) throws
        -> (head: ResponseScanner.Head?, body: String, ended: Bool, leftover: Int) {
        var scanner = ResponseScanner()
        scanner.expectResponse(toHEAD: head)
        var all = ByteBuffer(string: text)
        var result: (head: ResponseScanner.Head?, body: String, ended: Bool, leftover: Int) = (nil, "", false, 0)
        while all.readableBytes > 0 {
            var piece = all.readSlice(length: min(step, all.readableBytes))!
            for part in try scanner.feed(&piece) {
                switch part {
                case .head(let head): result.head = head
                case .body(let body): result.body += String(buffer: body)
                case .end: result.ended = true
                }
            }
            result.leftover += piece.readableBytes
        }
        return result
    }

    @Test(arguments: [1, 3, 7, 1000])
    func contentLengthBodyEndsAtItsLength(step: Int) throws {
        let result = try Self.scan("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", step: step)
        #expect(result.head?.status == 200)
        #expect(result.head?.closes == false)
        #expect(result.head?.hasHopByHop == false)
        #expect(result.body == "hello")
        #expect(result.ended)
    }

    @Test(arguments: [1, 2, 5, 1000])
    func chunkedBodyPassesThroughWithItsFramingAndEndsAfterTrailers(step: Int) throws {
        let chunked = "4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
        let result = try Self.scan("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, step: step)
        #expect(result.body == chunked, "the client gets the replica's framing unchanged")
        #expect(result.ended)
        #expect(result.leftover == 0)
    }

    @Test func interimResponsesAreSkipped() throws {
        let result = try Self.scan("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        #expect(result.head?.status == 201)
        #expect(result.body == "ok" && result.ended)
    }

    @Test func headAnd204And304HaveNoBody() throws {
        let head = try Self.scan("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n", head: true)
        #expect(head.ended && head.body.isEmpty)
        let noContent = try Self.scan("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(noContent.ended && noContent.head?.closes == false && noContent.head?.delimitedByClose == false)
        let notModified = try Self.scan("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")
        #expect(notModified.ended && notModified.body.isEmpty)
    }

    @Test func aBodyWithoutFramingRunsUntilClose() throws {
        var scanner = ResponseScanner()
        scanner.expectResponse(toHEAD: false)
        var bytes = ByteBuffer(string: "HTTP/1.0 200 OK\r\n\r\nsome bytes")
        let pieces = try scanner.feed(&bytes)
        #expect(pieces.count == 2, "head and body, no end yet")
        #expect(scanner.endsAtClose)
        if case .head(let head) = pieces.first { #expect(head.delimitedByClose && head.closes) } else { Issue.record("no head") }
    }

    @Test func connectionHeadersMarkTheHeadForRewritingAndClosing() throws {
        let close = try Self.scan("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        #expect(close.head?.closes == true && close.head?.hasHopByHop == true)
        let keepAlive = try Self.scan("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n")
        #expect(keepAlive.head?.hasHopByHop == true && keepAlive.head?.closes == false)
        let oldServer = try Self.scan("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(oldServer.head?.closes == true, "HTTP/1.0 closes unless it says keep-alive")
    }

    @Test func rewrittenHeadDropsHopByHopHeadersAndThoseNamedInConnection() throws {
        let raw = ByteBuffer(string: "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\nX-Kept: yes\r\n\r\n")
        let head = String(buffer: ResponseScanner.rewrittenHead(raw, minorVersion: 1, close: true))
        #expect(head == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Kept: yes\r\nconnection: close\r\n\r\n")
        let old = String(buffer: ResponseScanner.rewrittenHead(raw, minorVersion: 0, close: false))
        #expect(old.hasPrefix("HTTP/1.0 200 OK\r\n") && old.hasSuffix("connection: keep-alive\r\n\r\n"))
    }

    @Test func aReplicaCannotStripFramingThroughConnectionAndChunkingWinsOverLength() throws {
        let raw = ByteBuffer(string: "HTTP/1.1 200 OK\r\nConnection: content-length, transfer-encoding\r\nContent-Length: 2\r\n\r\n")
        let head = String(buffer: ResponseScanner.rewrittenHead(raw, minorVersion: 1, close: false))
        #expect(head == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        let both = try Self.scan("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        let parsed = try #require(both.head)
        #expect(parsed.chunked && parsed.hasHopByHop && both.ended)
        let rewritten = String(buffer: ResponseScanner.rewrittenHead(parsed.raw, minorVersion: 1, close: false, chunked: true))
        #expect(rewritten == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    @Test func bytesAfterTheEndAreLeftOver() throws {
        let result = try Self.scan("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA")
        #expect(result.ended && result.body == "x")
        #expect(result.leftover == 5)
    }

    @Test func malformedResponsesAreErrors() {
        #expect(throws: ResponseScanner.Failure.self) { try Self.scan("NOTHTTP 200 OK\r\n\r\n") }
        #expect(throws: ResponseScanner.Failure.self) { try Self.scan("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n") }
        #expect(throws: ResponseScanner.Failure.self) { try Self.scan("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") }
        #expect(throws: ResponseScanner.Failure.self) { try Self.scan("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") }
        #expect(throws: ResponseScanner.Failure.self) {
            try Self.scan("HTTP/1.1 200 OK\r\n" + String(repeating: "X-Big: 0123456789\r\n", count: 5000))
        }
    }
}
