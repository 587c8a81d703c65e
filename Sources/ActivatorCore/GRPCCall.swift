/// What the activator needs to know of gRPC to answer a call itself, without a gRPC library: the
/// status it sends in trailers for its own refusals, and the deadline a call carries
/// (`grpc-timeout`). Pure; the HTTP/2 data path performs what it says.
public enum GRPCCall {
    /// The gRPC status codes the activator sends itself (grpc/doc/statuscodes.md).
    public enum Status: Int, Sendable, Equatable {
        case ok = 0
        case cancelled = 1
        case deadlineExceeded = 4
        case resourceExhausted = 8
        case failedPrecondition = 9
        case unimplemented = 12
        case internalError = 13
        case unavailable = 14
    }

    /// The status for one of the activator's own answers (`ProxiedRequestState.Answer`, or an early
    /// refusal given as an HTTP status): what a gRPC client retries (UNAVAILABLE) only where a
    /// retry can succeed.
    public static func status(reason: String, httpStatus: Int) -> Status {
        switch reason {
        case "timeout": return .deadlineExceeded
        case "queue_full", "target_failed", "shutting_down", "replica_failed": return .unavailable
        case "bad_request": return .internalError
        default: break
        }
        switch httpStatus {
        case 404: return .unimplemented
        case 408, 504: return .deadlineExceeded
        case 502, 503: return .unavailable
        case 505: return .failedPrecondition
        default: return .internalError
        }
    }

    /// `grpc-status` and `grpc-message` for `status` and a human message.
    public static func trailers(_ status: Status, message: String) -> [(String, String)] {
        [("grpc-status", String(status.rawValue)), ("grpc-message", percentEncoded(message))]
    }

    /// Whether a request is a gRPC call (its own refusals are then answered in gRPC's terms).
    public static func isGRPC(contentType: String?) -> Bool {
        guard let contentType else { return false }
        return contentType.utf8.starts(with: "application/grpc".utf8)
    }

    /// The trailers that end a call the activator refused: the same mapping as every other answer.
    public static func trailers(for rejection: Rejection) -> [(String, String)] {
        trailers(status(reason: rejection.reason, httpStatus: rejection.status), message: rejection.description)
    }

    /// `grpc-message` is percent-encoded UTF-8: bytes outside printable ASCII, and `%` itself.
    public static func percentEncoded(_ message: String) -> String {
        var encoded = ""
        for byte in message.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }

    /// A call's time: the target's, or its own `grpc-timeout` when that is shorter. Compared as
    /// durations: the header may say up to 99,999,999 hours, which overflows nanoseconds.
    public static func callTimeout(target: Duration, header: String?) -> Duration {
        guard let header, let own = timeout(header) else { return target }
        return min(target, own)
    }

    /// A `grpc-timeout` header as a duration: at most 8 digits and a unit (H, M, S, m, u, n);
    /// nil for anything else, which the call is then held to the target's own timeout.
    public static func timeout(_ header: String) -> Duration? {
        let bytes = Array(header.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last else { return nil }
        var value: Int64 = 0
        for byte in bytes.dropLast() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(value * 3600)
        case UInt8(ascii: "M"): return .seconds(value * 60)
        case UInt8(ascii: "S"): return .seconds(value)
        case UInt8(ascii: "m"): return .milliseconds(value)
        case UInt8(ascii: "u"): return .microseconds(value)
        case UInt8(ascii: "n"): return .nanoseconds(value)
        default: return nil
        }
    }
}

/// Which protocol a client connection speaks, from its first bytes: HTTP/2 with prior knowledge
/// (what gRPC clients send over cleartext) starts with the 24-byte connection preface; anything
/// else is HTTP/1.1. Both on one port, as the issue asks.
public enum ConnectionPreface {
    public static let http2 = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    public enum Verdict: Sendable, Equatable {
        case http1
        case http2
        /// Too few bytes to tell yet: every one so far matches the preface.
        case undecided
    }

    /// The verdict on the bytes received so far.
    public static func classify(_ received: some Collection<UInt8>) -> Verdict {
        for (byte, expected) in zip(received, http2) where byte != expected {
            return .http1
        }
        return received.count >= http2.count ? .http2 : .undecided
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
