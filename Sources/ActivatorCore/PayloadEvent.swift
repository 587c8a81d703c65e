/// What the payload logger sends: one CloudEvent in HTTP binary mode per request body and per
/// response body, as KServe's logger does. Pure: the sidecar fills it in and a sender posts it.
///
/// Binary mode puts the event's attributes in `ce-*` headers and the body, unchanged, in the HTTP
/// body; the request's and the response's events share `ce-id`, so a sink pairs them.
public struct PayloadEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case request, response

        /// KServe's event types, which existing sinks filter on.
        public var ceType: String { "org.kubeflow.serving.inference.\(rawValue)" }
    }

    /// Which bodies a component logs (`logger.mode`).
    public enum Mode: String, Sendable, CaseIterable {
        case all, request, response

        public func logs(_ kind: Kind) -> Bool {
            self == .all || rawValue == kind.rawValue
        }
    }

    /// Who is logging: the extension attributes every event carries.
    public struct Origin: Sendable, Equatable {
        public var service: String
        public var release: String
        public var model: String
        /// `predictor` or `transformer`.
        public var component: String
        /// The `ce-source`: the replica that saw the request.
        public var source: String

        public init(service: String, release: String, model: String, component: String, source: String) {
            self.service = service
            self.release = release
            self.model = model
            self.component = component
            self.source = source
        }
    }

    public var id: String
    public var kind: Kind
    public var contentType: String?
    public var body: [UInt8]

    public init(id: String, kind: Kind, contentType: String?, body: [UInt8]) {
        self.id = id
        self.kind = kind
        self.contentType = contentType
        self.body = body
    }

    /// The HTTP headers of the event in binary mode (CloudEvents HTTP binding 1.0, §3.1).
    public func headers(from origin: Origin) -> [(String, String)] {
        var headers = [("ce-specversion", "1.0"), ("ce-id", id), ("ce-type", kind.ceType), ("ce-source", origin.source),
                       ("ce-service", origin.service), ("ce-release", origin.release), ("ce-model", origin.model),
                       ("ce-component", origin.component),
                       // KServe's names for the same, which its sinks read.
                       ("ce-inferenceservicename", origin.service), ("ce-endpoint", origin.release)]
        headers.append(("content-type", contentType ?? "application/octet-stream"))
        return headers
    }
}

/// The body of a chunked HTTP/1.1 message from its raw bytes (sizes, extensions and trailers
/// removed); nil when the bytes are not a whole, well-formed chunked body. Sizes are read as the
/// proxy's response scanner reads them: hex digits only (no sign), at most 15, then optional
/// spaces or tabs and an extension.
public enum ChunkedBody {
    public static func decode(_ raw: [UInt8]) -> [UInt8]? {
        if raw.isEmpty { return [] }  // no body at all (HEAD, 204, 304)
        var body: [UInt8] = []
        var index = 0
        func line() -> ArraySlice<UInt8>? {
            var end = index
            while end + 1 < raw.count, !(raw[end] == 13 && raw[end + 1] == 10) { end += 1 }
            guard end + 1 < raw.count else { return nil }
            defer { index = end + 2 }
            return raw[index..<end]
        }
        while true {
            guard let sizeLine = line() else { return nil }
            var size = 0
            var digits = 0
            for byte in sizeLine {
                let value: Int
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a")) + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A")) + 10
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: ";"): value = -1
                default: return nil
                }
                if value < 0 { break }
                digits += 1
                guard digits <= 15 else { return nil }
                size = size * 16 + value
            }
            guard digits > 0 else { return nil }
            if size == 0 {
                // Trailers, if any, then the final empty line.
                while let trailer = line() { if trailer.isEmpty { return body } }
                return nil
            }
            guard size <= raw.count - index - 2, raw[index + size] == 13, raw[index + size + 1] == 10 else { return nil }
            body += raw[index..<(index + size)]
            index += size + 2
        }
    }
}

/// A body kept up to a limit: past it, nothing is kept and `overflowed` says so (a body is logged
/// or copied whole, never cut short).
public struct BoundedBody: Sendable {
    public let limit: Int
    public private(set) var bytes: [UInt8] = []
    public private(set) var overflowed = false

    public init(limit: Int) {
        self.limit = limit
    }

    public mutating func append(_ more: some Collection<UInt8>) {
        guard !overflowed else { return }
        if bytes.count + more.count > limit {
            overflowed = true
            bytes = []
        } else {
            bytes += more
        }
    }
}

/// One exchange's bodies as the sidecar saw them, for the payload logger: each a `BoundedBody`, and
/// only those its mode logs.
public struct PayloadCapture: Sendable {
    public let id: String
    public private(set) var requestContentType: String?
    public private(set) var responseContentType: String?
    public private(set) var responseChunked = false
    private var request: BoundedBody?
    /// Raw response bytes: for a chunked response with their framing, decoded at the end. The
    /// limit counts raw bytes, so a chunked body is held to a little less than the limit.
    private var response: BoundedBody?

    public init(id: String, limit: Int, requestContentType: String?, keepsRequest: Bool = true, keepsResponse: Bool = true) {
        self.id = id
        self.requestContentType = requestContentType
        request = keepsRequest ? BoundedBody(limit: limit) : nil
        response = keepsResponse ? BoundedBody(limit: limit) : nil
    }

    public var responseRaw: [UInt8] { response?.bytes ?? [] }

    public mutating func request(_ bytes: some Collection<UInt8>) { request?.append(bytes) }

    public mutating func responseStarted(contentType: String?, chunked: Bool) {
        responseContentType = contentType
        responseChunked = chunked
    }

    public mutating func response(_ bytes: some Collection<UInt8>) { response?.append(bytes) }

    /// An event, or why there is none: `body_too_large`, or `incomplete` (a chunked body that did not end).
    public typealias Outcome = Result<PayloadEvent, DropReason>

    public struct DropReason: Error, Equatable {
        public let label: String
        public static let bodyTooLarge = DropReason(label: "body_too_large")
        public static let incomplete = DropReason(label: "incomplete")
    }

    /// The request's event (a capture that keeps no request has an empty one, which is never offered).
    public var requestEvent: Outcome {
        let body = request ?? BoundedBody(limit: 0)
        return body.overflowed ? .failure(.bodyTooLarge) : .success(PayloadEvent(id: id, kind: .request, contentType: requestContentType, body: body.bytes))
    }

    /// The response's event.
    public var responseEvent: Outcome {
        let raw = response ?? BoundedBody(limit: 0)
        guard !raw.overflowed else { return .failure(.bodyTooLarge) }
        guard let body = responseChunked ? ChunkedBody.decode(raw.bytes) : raw.bytes else { return .failure(.incomplete) }
        return .success(PayloadEvent(id: id, kind: .response, contentType: responseContentType, body: body))
    }
}
