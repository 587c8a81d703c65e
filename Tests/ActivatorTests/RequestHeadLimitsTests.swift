@testable import Activator
import Foundation
import NIOHTTP1
import Testing
import ThawTestSupport

/// Request heads refused before routing: oversized, ambiguous about their host, or with a path that
/// does not say what it means. (Each of these was forwarded, or answered 404, before.)
@Suite(.serialized) struct RequestHeadLimitsTests {
    static func head(_ uri: String = "/", method: HTTPMethod = .GET, minor: Int = 1, headers: [(String, String)] = [("host", "h.local")]) -> HTTPRequestHead {
        HTTPRequestHead(version: HTTPVersion(major: 1, minor: minor), method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    @Test func theRules() {
        #expect(RequestHeadCheck.refusal(for: Self.head()) == nil)
        #expect(RequestHeadCheck.refusal(for: Self.head("/a/b.json?x=../y")) == nil, "dots in a file name or the query are fine")
        #expect(RequestHeadCheck.refusal(for: Self.head(minor: 0, headers: [])) == nil, "HTTP/1.0 may leave Host out")
        #expect(RequestHeadCheck.refusal(for: Self.head(headers: []))?.status == .badRequest)
        #expect(RequestHeadCheck.refusal(for: Self.head(headers: [("host", "a.local"), ("Host", "b.local")]))?.status == .badRequest)
        #expect(RequestHeadCheck.refusal(for: Self.head("http://b.local/x"))?.status == .badRequest)
        #expect(RequestHeadCheck.refusal(for: Self.head("http://H.local/x")) == nil, "host names match without case")
        for path in ["/public/../admin", "/a/./b", "/a/%2e%2E/b", "/a/.."] {
            #expect(RequestHeadCheck.refusal(for: Self.head(path))?.status == .badRequest, "\(path)")
        }
        #expect(RequestHeadCheck.refusal(for: Self.head("h.local:443", method: .CONNECT))?.status == .methodNotAllowed)
        #expect(RequestHeadCheck.refusal(for: Self.head("/" + String(repeating: "a", count: 9000)))?.status == .uriTooLong)
        #expect(RequestHeadCheck.refusal(for: Self.head(headers: [("host", "h.local"), ("x-big", String(repeating: "b", count: 9000))]))?.status
                == .requestHeaderFieldsTooLarge)
        let many = [("host", "h.local")] + (0..<100).map { ("x-\($0)", "v") }
        #expect(RequestHeadCheck.refusal(for: Self.head(headers: many))?.status == .requestHeaderFieldsTooLarge)
        let large = [("host", "h.local")] + (0..<5).map { ("x-\($0)", String(repeating: "c", count: 7000)) }
        #expect(RequestHeadCheck.refusal(for: Self.head(headers: large))?.status == .requestHeaderFieldsTooLarge, "35 KB in all")
        // Found by `make fuzz`: an empty Transfer-Encoding with a Content-Length was read by its
        // length here, and forwarded as chunked, which the replica could frame differently.
        for codings in ["", "gzip", "chunked, gzip", "chunked, chunked", "gzip,, chunked"] {
            let refusal = RequestHeadCheck.refusal(for: Self.head(headers: [("host", "h.local"), ("transfer-encoding", codings), ("content-length", "9")]))
            #expect(refusal?.status == .badRequest && refusal?.closesConnection == true, "Transfer-Encoding: \(codings)")
        }
        for codings in ["chunked", "gzip, chunked", "GZIP,Chunked"] {
            #expect(RequestHeadCheck.refusal(for: Self.head(headers: [("host", "h.local"), ("transfer-encoding", codings)])) == nil, "\(codings)")
        }
        #expect(RequestHeadCheck.refusal(for: Self.head(headers: [("host", "h.local"), ("Transfer-Encoding", "gzip"), ("transfer-encoding", "chunked")])) == nil,
                "codings over two fields are one list")
    }

    @Test func refusedHeadsNeverReachTheReplica() async throws {
        let record = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-record-\(UUID().uuidString).jsonl").path
        let backend = try await Backend.start(name: "h", arguments: ["--record", record])
        let activator = try await ActivatorProcess.serving("h", on: [backend])
        let cases: [(String, String)] = [
            ("GET /a HTTP/1.1\r\nHost: h.local\r\nHost: other.local\r\n\r\n", "HTTP/1.1 400"),
            ("GET /a HTTP/1.1\r\n\r\n", "HTTP/1.1 400"),
            ("GET /public/../admin HTTP/1.1\r\nHost: h.local\r\n\r\n", "HTTP/1.1 400"),
            ("GET http://other.local/a HTTP/1.1\r\nHost: h.local\r\n\r\n", "HTTP/1.1 400"),
            ("CONNECT nowhere.local:443 HTTP/1.1\r\nHost: nowhere.local:443\r\n\r\n", "HTTP/1.1 405"),
            ("GET /a HTTP/1.1\r\nHost: h.local\r\nX-Big: \(String(repeating: "b", count: 64 * 1024))\r\n\r\n", "HTTP/1.1 431"),
            ("GET /a HTTP/1.1\r\nHost: h.local\r\n" + (0..<10_000).map { "X-\($0): v\r\n" }.joined() + "\r\n", "HTTP/1.1 431"),
            ("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: h.local\r\n\r\n", "HTTP/1.1 414"),
            // The smuggling attempt `make fuzz` found: the body (a request of its own) never reaches the replica.
            ("PUT /v1 HTTP/1.1\r\nHost: h.local\r\nTransfer-Encoding: \r\nContent-Length: 36\r\n\r\n3\r\nabcGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
             "HTTP/1.1 400"),
        ]
        for (request, expected) in cases {
            let answer = try await RawClient.exchange(port: activator.port, request) { $0.contains("\r\n\r\n") }
            #expect(answer.hasPrefix(expected), "\(request.prefix(80)): \(answer.prefix(200))")
        }
        // A chunk size that is not hex, after the head already went to the replica: 400, and the
        // replica's exchange is aborted (it was closed with no answer before).
        let badChunk = try await RawClient.exchange(port: activator.port,
            "POST /up HTTP/1.1\r\nHost: h.local\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n") { _ in false }
        #expect(badChunk.hasPrefix("HTTP/1.1 400") && badChunk.contains("malformed request body"), "\(badChunk)")
        try await activator.waitForTarget("h") { $0["activeRequests"] as? Int == 0 }
        let fine = try await RawClient.exchange(port: activator.port, "GET /fine HTTP/1.1\r\nHost: h.local\r\n\r\n") { $0.hasSuffix("Hello World!\n") }
        #expect(fine.hasPrefix("HTTP/1.1 200"))
        let reached = ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { !$0.contains("\"/ready\"") }
        #expect(reached.allSatisfy { !$0.contains("\"/up\"") }, "the broken upload never completed at the replica: \(reached)")
        #expect(reached.allSatisfy { !$0.contains("/smuggled") && !$0.contains("/v1") }, "\(reached)")
        #expect(reached.filter { $0.contains("/fine") }.count == 1, "the valid request reached the replica: \(reached)")
        #expect(reached.count == 1, "only it: \(reached)")
    }

    @Test func anEarlyAnswerIsTheOnlyAnswerAndTheIdleConnectionClosesQuietly() async throws {
        // Issue 26, finding 7: after a refused (431) or unrouted (404) keep-alive request the idle
        // connection got an unasked-for 408 at the head timeout instead of closing quietly at the
        // keep-alive timeout: the read that ended the answered request was taken for a new head.
        let backend = try await Backend.start(name: "h")
        let activator = try await ActivatorProcess.serving("h", on: [backend],
                                                           arguments: ["--client-header-timeout", "1", "--keepalive-timeout", "3"])
        let requests = [
            "GET /a HTTP/1.1\r\nHost: h.local\r\nX-Big: \(String(repeating: "b", count: 9000))\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: nowhere.local\r\n\r\n",
        ]
        for request in requests {
            let start = ContinuousClock.now
            let answer = try await RawClient.exchange(port: activator.port, request, until: { _ in false }, timeout: 10)
            let statusLines = answer.components(separatedBy: "\r\n").filter { $0.hasPrefix("HTTP/1.1 ") }
            #expect(statusLines.count == 1, "one answer, then a quiet close: \(answer)")
            #expect(!answer.contains("408"), "\(answer)")
            #expect(ContinuousClock.now - start >= .seconds(2.5), "closed by the keep-alive timeout (3 s), not the head timeout (1 s)")
        }
    }
}
