@testable import Activator
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RoutingFile
import ThawVocabulary

/// The properties the fuzzer (`make fuzz`) tries to break, one per input format the proxy reads.
/// Each traps on a violation, so libFuzzer keeps the input; `make test` replays the corpus in
/// `Fuzz/corpus/`, which holds the seeds and every input a run found, as regression tests.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A client's request bytes: decoded as the activator decodes them, re-encoded for the replica
    /// by `RequestWriter`, and decoded again as the replica would. The replica must see the same
    /// request (method, target, body) and nothing more: no second request smuggled in.
    case request
    /// A replica's response bytes, framed by `ResponseScanner` (heads, fixed and chunked bodies,
    /// bodies ending at close). Feeding them whole or in pieces must frame them the same way,
    /// and never yield more bytes than came in.
    case response
    /// A routing file: read, it must write out (`fileText`) as a file that reads back equal.
    case routing

    public func check(_ bytes: [UInt8]) {
        switch self {
        case .request: RequestFramingCheck.check(bytes)
        case .response: ResponseFramingCheck.check(bytes)
        case .routing: RoutingFileCheck.check(bytes)
        }
    }
}

enum RequestFramingCheck {
    /// One request as the proxy's decoder saw it: complete (its end was read) or not.
    struct Request: Equatable {
        var method: String
        var uri: String
        var body: [UInt8] = []
        var ended = false
    }

    static func check(_ bytes: [UInt8]) {
        let parts = decode(bytes)
        guard case .head(let head)? = parts.first else { return }
        // What the activator answers itself never reaches a replica.
        guard RequestHeadCheck.refusal(for: head) == nil, !(head.version.minor == 0 && head.headers.contains(name: "transfer-encoding")) else { return }
        let writer = RequestWriter(for: head)
        var forwarded = writer.head(head, clientIP: "127.0.0.1")
        var seen = Request(method: head.method.rawValue, uri: head.uri)
        loop: for part in parts.dropFirst() {
            switch part {
            case .head:
                break loop
            case .body(let body):
                seen.body += body.readableBytesView
                writer.body(body) { forwarded.writeImmutableBuffer($0) }
            case .end(let trailers):
                writer.end(trailers) { forwarded.writeImmutableBuffer($0) }
                seen.ended = true
                break loop
            }
        }
        // Only a complete request is forwarded whole; an incomplete one may stop anywhere.
        guard seen.ended else { return }
        let replica = decode(Array(forwarded.readableBytesView))
        var replicaSaw: Request?
        var extra = 0
        for part in replica {
            switch part {
            case .head(let head):
                if replicaSaw == nil { replicaSaw = Request(method: head.method.rawValue, uri: head.uri) } else { extra += 1 }
            case .body(let body):
                if extra == 0 { replicaSaw?.body += body.readableBytesView }
            case .end:
                if extra == 0 { replicaSaw?.ended = true }
            }
        }
        precondition(replicaSaw == seen, "the replica would read \(String(describing: replicaSaw)) where the activator read \(seen)")
        precondition(extra == 0, "the forwarded bytes carry \(extra) more request(s) than the client's")
    }

    /// The parts NIO's decoder yields, as the activator's pipeline configures it, up to an error.
    static func decode(_ bytes: [UInt8]) -> [HTTPServerRequestPart] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        var parts: [HTTPServerRequestPart] = []
        _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) { parts.append(part) }
        _ = try? channel.finish()
        return parts
    }
}

enum ResponseFramingCheck {
    /// How a scanner framed a response: what it handed on, and whether it refused the bytes.
    struct Framing: Equatable {
        var statuses: [Int] = []
        var heads: [UInt8] = []
        var body: [UInt8] = []
        var ended = false
        var failed = false
    }

    /// The first byte picks HEAD or not and the piece size; the rest is the response.
    static func check(_ bytes: [UInt8]) {
        guard let control = bytes.first else { return }
        let response = Array(bytes.dropFirst())
        let toHEAD = control & 1 == 1
        let whole = frame(response, pieceSize: max(1, response.count), toHEAD: toHEAD)
        let pieces = frame(response, pieceSize: 1 + Int(control >> 1) % 23, toHEAD: toHEAD)
        precondition(whole == pieces, "framed whole: \(whole); in pieces: \(pieces)")
        precondition(whole.heads.count + whole.body.count <= response.count, "more bytes out than in")
    }

    static func frame(_ response: [UInt8], pieceSize: Int, toHEAD: Bool) -> Framing {
        var scanner = ResponseScanner()
        scanner.expectResponse(toHEAD: toHEAD)
        var framing = Framing()
        var offset = 0
        while offset < response.count, !framing.ended, !framing.failed {
            var buffer = ByteBuffer(bytes: response[offset..<min(response.count, offset + pieceSize)])
            offset += pieceSize
            do {
                for piece in try scanner.feed(&buffer) {
                    switch piece {
                    case .head(let head):
                        framing.statuses.append(head.status)
                        framing.heads += head.raw.readableBytesView
                    case .body(let body):
                        framing.body += body.readableBytesView
                    case .end:
                        framing.ended = true
                    }
                }
            } catch {
                // A refused response loses what the same call framed; compare only the verdict.
                framing = Framing(failed: true)
            }
        }
        if !framing.ended, !framing.failed, scanner.endsAtClose { framing.ended = true }
        return framing
    }
}

enum RoutingFileCheck {
    static func check(_ bytes: [UInt8]) {
        guard let config = try? RoutingConfig.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml") else { return }
        let written = config.fileText
        let reread: RoutingConfig
        do {
            reread = try RoutingConfig.parse(written, file: "written.yaml")
        } catch {
            preconditionFailure("a routing file that was read writes out as one that is refused (\(error)):\n\(written)")
        }
        precondition(reread == config, "a routing file written and read back differs:\n\(written)")
    }
}
