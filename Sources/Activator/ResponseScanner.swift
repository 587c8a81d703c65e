import NIOCore

/// Finds where each HTTP/1.1 response from a replica begins and ends, on the raw bytes, so the
/// activator can pass responses through untouched instead of decoding and re-encoding them.
///
/// SwiftNIO's codec turns every header into a `String` and re-serialises it on the other side; that
/// was about half of the activator's CPU per request (`make bench-activator`). A proxy only needs
/// the framing: the status, `Content-Length` or chunked encoding, `Connection`, and whether the head
/// carries hop-by-hop headers that must not travel on. Everything else stays bytes.
struct ResponseScanner {
    /// What the head says, read without allocating per header.
    struct Head {
        var status: Int
        var minorVersion: Int
        /// The replica will close the connection after this response.
        var closes: Bool
        /// The body has neither length nor chunking: it ends when the replica closes.
        var delimitedByClose: Bool
        /// The head carries hop-by-hop headers (or names some in `Connection`) and must be rewritten.
        var hasHopByHop: Bool
        /// How the body is framed; nil when it has neither length nor chunking.
        var framing: Framing?
        var chunked: Bool {
            if case .chunked = framing { return true }
            return false
        }
        /// The raw head, status line to the blank line included.
        var raw: ByteBuffer
    }

    enum Piece {
        case head(Head)
        /// Body bytes exactly as framed by the replica (chunk sizes included for a chunked body).
        case body(ByteBuffer)
        case end
    }

    enum Failure: Error, CustomStringConvertible {
        case headTooLarge
        case malformed(String)
        var description: String {
            switch self {
            case .headTooLarge: "response head larger than 64 KiB"
            case .malformed(let what): "malformed response: \(what)"
            }
        }
    }

    private enum State {
        case head
        case fixed(remaining: Int)
        case chunked(Chunked)
        case untilClose
        case idle
    }

    /// Where the scan of chunked framing is; every state advances byte by byte, so a read may end
    /// anywhere, even inside a chunk-size line, and nothing needs to be held back.
    private enum Chunked {
        case size(value: Int, digits: Int, inExtension: Bool)
        case sizeLF(value: Int)
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLineLF
        case finalLF
    }

    static let maxHead = 64 * 1024
    private var state = State.idle
    private var pending = ByteBuffer()
    private var bodyless = false

    /// Expects the response to a new request; `bodyless` for HEAD requests.
    mutating func expectResponse(toHEAD: Bool) {
        state = .head
        bodyless = toHEAD
        pending.clear()
    }

    /// True while a response is expected or in progress.
    var isActive: Bool {
        if case .idle = state { return false }
        return true
    }

    /// True when the replica closing the connection now ends the response normally.
    var endsAtClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    /// Consumes bytes from the replica and returns what they complete, in order. Bytes after the end
    /// of the response are left in `buffer` (a replica must not send them; the caller closes).
    mutating func feed(_ buffer: inout ByteBuffer) throws -> [Piece] {
        var pieces: [Piece] = []
        while buffer.readableBytes > 0 {
            switch state {
            case .idle:
                return pieces
            case .head:
                guard let head = try takeHead(&buffer) else { return pieces }
                if (100..<200).contains(head.status), head.status != 101 { continue }
                pieces.append(.head(head))
                startBody(head)
                if case .idle = state { pieces.append(.end) }
            case .fixed(let remaining):
                let count = min(remaining, buffer.readableBytes)
                pieces.append(.body(buffer.readSlice(length: count)!))
                if count == remaining {
                    state = .idle
                    pieces.append(.end)
                } else {
                    state = .fixed(remaining: remaining - count)
                }
            case .untilClose:
                pieces.append(.body(buffer.readSlice(length: buffer.readableBytes)!))
            case .chunked(let chunked):
                let (consumed, next) = try Self.scanChunked(buffer, from: chunked)
                pieces.append(.body(buffer.readSlice(length: consumed)!))
                if let next {
                    state = .chunked(next)
                } else {
                    state = .idle
                    pieces.append(.end)
                }
            }
        }
        return pieces
    }

    private mutating func startBody(_ head: Head) {
        if bodyless || head.status == 204 || head.status == 304 {
            state = .idle
        } else if let framing = head.framing {
            switch framing {
            case .chunked: state = .chunked(.size(value: 0, digits: 0, inExtension: false))
            case .length(let length): state = length == 0 ? .idle : .fixed(remaining: length)
            }
        } else {
            state = .untilClose
        }
    }

    enum Framing { case chunked, length(Int) }

    /// Reads a complete head out of `buffer`, keeping a partial one for the next call.
    private mutating func takeHead(_ buffer: inout ByteBuffer) throws -> Head? {
        // The usual case: the whole head arrived in one read, and is sliced out without a copy.
        if pending.readableBytes == 0, let end = Self.headEnd(buffer) {
            return try parse(buffer.readSlice(length: end)!)
        }
        pending.writeBuffer(&buffer)
        guard let end = Self.headEnd(pending) else {
            if pending.readableBytes > Self.maxHead { throw Failure.headTooLarge }
            return nil
        }
        let raw = pending.readSlice(length: end)!
        // What follows the head belongs to the body: hand it back.
        buffer = pending
        pending = ByteBuffer()
        return try parse(raw)
    }

    private mutating func parse(_ raw: ByteBuffer) throws -> Head {
        var head = Head(status: 0, minorVersion: 1, closes: false, delimitedByClose: false, hasHopByHop: false, raw: raw)
        var contentLength: Int?
        var chunked = false
        var keepAlive = false
        try raw.withUnsafeReadableBytes { bytes in
            // Status line: HTTP/1.x SSS reason
            guard bytes.count > 12, bytes[0] == UInt8(ascii: "H"), bytes[5] == UInt8(ascii: "1"), bytes[6] == UInt8(ascii: "."),
                  let minor = Self.digit(bytes[7]), bytes[8] == UInt8(ascii: " "),
                  let s0 = Self.digit(bytes[9]), let s1 = Self.digit(bytes[10]), let s2 = Self.digit(bytes[11]) else {
                throw Failure.malformed("bad status line")
            }
            head.minorVersion = minor
            head.status = s0 * 100 + s1 * 10 + s2
            var line = Self.nextLine(bytes, from: 0)
            while line < bytes.count - 2 {
                let lineEnd = Self.lineEnd(bytes, from: line)
                guard lineEnd > line else { break }
                guard let colon = (line..<lineEnd).first(where: { bytes[$0] == UInt8(ascii: ":") }) else {
                    throw Failure.malformed("header line without a colon")
                }
                var valueStart = colon + 1
                while valueStart < lineEnd, bytes[valueStart] == 32 || bytes[valueStart] == 9 { valueStart += 1 }
                var valueEnd = lineEnd
                while valueEnd > valueStart, bytes[valueEnd - 1] == 32 || bytes[valueEnd - 1] == 9 { valueEnd -= 1 }
                let name = UnsafeRawBufferPointer(rebasing: bytes[line..<colon])
                let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
                if Self.equal(name, "content-length") {
                    guard let length = Self.decimal(value) else { throw Failure.malformed("bad Content-Length") }
                    if let contentLength, contentLength != length { throw Failure.malformed("conflicting Content-Length") }
                    contentLength = length
                } else if Self.equal(name, "transfer-encoding") {
                    chunked = Self.endsWithToken(value, "chunked")
                    if !chunked { throw Failure.malformed("unsupported Transfer-Encoding") }
                } else if Self.equal(name, "connection") {
                    head.hasHopByHop = true
                    if Self.containsToken(value, "close") { head.closes = true }
                    if Self.containsToken(value, "keep-alive") { keepAlive = true }
                } else if Self.isHopByHop(name) {
                    head.hasHopByHop = true
                }
                line = Self.nextLine(bytes, from: lineEnd)
            }
        }
        if head.minorVersion == 0, !keepAlive { head.closes = true }
        if chunked {
            head.framing = .chunked
            // Chunking wins over a Content-Length; the client must not see both.
            if contentLength != nil { head.hasHopByHop = true }
        } else if let contentLength {
            head.framing = .length(contentLength)
        } else {
            if !bodyless, head.status != 204, head.status != 304, !(100..<200).contains(head.status) {
                head.delimitedByClose = true
                head.closes = true
            }
        }
        return head
    }

    /// Scans chunked framing from `state`; returns how many bytes belong to the message and the
    /// state after them, or nil once the message ended.
    private static func scanChunked(_ buffer: ByteBuffer, from start: Chunked) throws -> (Int, Chunked?) {
        try buffer.withUnsafeReadableBytes { bytes in
            var state = start
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch state {
                case .size(let value, let digits, let inExtension):
                    if byte == 13 {
                        guard digits > 0 else { throw Failure.malformed("bad chunk size") }
                        state = .sizeLF(value: value)
                    } else if inExtension {
                        break
                    } else if let digit = hexDigit(byte) {
                        guard digits < 15 else { throw Failure.malformed("chunk size too large") }
                        state = .size(value: value * 16 + digit, digits: digits + 1, inExtension: false)
                    } else if byte == UInt8(ascii: ";") || byte == 32 || byte == 9 {
                        state = .size(value: value, digits: digits, inExtension: true)
                    } else {
                        throw Failure.malformed("bad chunk size")
                    }
                case .sizeLF(let value):
                    guard byte == 10 else { throw Failure.malformed("chunk size line without LF") }
                    state = value == 0 ? .trailerLineStart : .data(remaining: value)
                case .data(let remaining):
                    let count = min(remaining, bytes.count - index)
                    index += count
                    state = count == remaining ? .dataCR : .data(remaining: remaining - count)
                    continue
                case .dataCR:
                    guard byte == 13 else { throw Failure.malformed("chunk not followed by CRLF") }
                    state = .dataLF
                case .dataLF:
                    guard byte == 10 else { throw Failure.malformed("chunk not followed by CRLF") }
                    state = .size(value: 0, digits: 0, inExtension: false)
                case .trailerLineStart:
                    state = byte == 13 ? .finalLF : .trailerLine
                case .trailerLine:
                    if byte == 13 { state = .trailerLineLF }
                case .trailerLineLF:
                    guard byte == 10 else { throw Failure.malformed("trailer line without LF") }
                    state = .trailerLineStart
                case .finalLF:
                    guard byte == 10 else { throw Failure.malformed("chunked body not ended by CRLF") }
                    return (index + 1, nil)
                }
                index += 1
            }
            return (index, state)
        }
    }

    // MARK: Byte helpers

    /// Length of the head (through its blank line) at the start of `buffer`, if it is all there.
    private static func headEnd(_ buffer: ByteBuffer) -> Int? {
        buffer.withUnsafeReadableBytes { bytes in
            guard bytes.count >= 4 else { return nil }
            var index = 0
            while index + 3 < bytes.count {
                if bytes[index + 3] == 10, bytes[index + 2] == 13, bytes[index + 1] == 10, bytes[index] == 13 { return index + 4 }
                index += 1
            }
            return nil
        }
    }

    /// The head re-written for the client: its HTTP version, without hop-by-hop headers (and those
    /// named in `Connection`), with `connection: close` when the client connection will close.
    /// The first value of header `name` (lowercase) in a raw response head, for the payload logger.
    static func headerValue(_ raw: ByteBuffer, name: String) -> String? {
        let text = String(buffer: raw)
        for line in text.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    static func rewrittenHead(_ raw: ByteBuffer, minorVersion: Int, close: Bool, chunked: Bool = false) -> ByteBuffer {
        raw.withUnsafeReadableBytes { bytes in
            var out = ByteBuffer()
            out.reserveCapacity(bytes.count + 32)
            out.writeStaticString(minorVersion == 0 ? "HTTP/1.0" : "HTTP/1.1")
            let statusEnd = lineEnd(bytes, from: 0)
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[8..<statusEnd]))
            out.writeStaticString("\r\n")
            // Names listed in Connection are hop-by-hop too.
            var named: [[UInt8]] = []
            var line = nextLine(bytes, from: 0)
            while line < bytes.count - 2 {
                let end = lineEnd(bytes, from: line)
                if let colon = (line..<end).first(where: { bytes[$0] == UInt8(ascii: ":") }),
                   equal(UnsafeRawBufferPointer(rebasing: bytes[line..<colon]), "connection") {
                    for token in bytes[(colon + 1)..<end].split(separator: UInt8(ascii: ",")) {
                        let trimmed = token.drop { $0 == 32 || $0 == 9 }.reversed().drop { $0 == 32 || $0 == 9 }.reversed()
                        let name = Array(trimmed.map(lower))
                        let kept = name.withUnsafeBytes { token in HopByHop.neverDropped.contains { equal(token, $0) } }
                        if !kept { named.append(name) }
                    }
                }
                line = nextLine(bytes, from: end)
            }
            line = nextLine(bytes, from: 0)
            while line < bytes.count - 2 {
                let end = lineEnd(bytes, from: line)
                let colon = (line..<end).first { bytes[$0] == UInt8(ascii: ":") } ?? end
                let name = UnsafeRawBufferPointer(rebasing: bytes[line..<colon])
                let dropped = isHopByHop(name) || named.contains { $0.elementsEqual(name.map(lower)) }
                    || (chunked && equal(name, "content-length"))
                if !dropped {
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[line..<(end + 2)]))
                }
                line = end + 2
            }
            if close { out.writeStaticString("connection: close\r\n") }
            else if minorVersion == 0 { out.writeStaticString("connection: keep-alive\r\n") }
            out.writeStaticString("\r\n")
            return out
        }
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (48...57).contains(byte) ? Int(byte - 48) : nil
    }

    private static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: Int(byte - 48)
        case 65...70: Int(byte - 55)
        case 97...102: Int(byte - 87)
        default: nil
        }
    }

    private static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard let digit = digit(byte) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// Index of the CR of the line starting at `start` (or the end).
    private static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index + 1 < bytes.count, !(bytes[index] == 13 && bytes[index + 1] == 10) { index += 1 }
        return index
    }

    private static func nextLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        lineEnd(bytes, from: start) + 2
    }

    private static func lower(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte + 32 : byte }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for index in 0..<bytes.count where lower(bytes[index]) != expected[index] { return false }
        return true
    }

    private static func isHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        HopByHop.names.contains { equal(name, $0) }
    }

    /// Whether a comma-separated header value contains `token` (case-insensitive).
    private static func containsToken(_ value: UnsafeRawBufferPointer, _ token: StaticString) -> Bool {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count, value[end] != UInt8(ascii: ",") { end += 1 }
            var a = start, b = end
            while a < b, value[a] == 32 || value[a] == 9 { a += 1 }
            while b > a, value[b - 1] == 32 || value[b - 1] == 9 { b -= 1 }
            if equal(UnsafeRawBufferPointer(rebasing: value[a..<b]), token) { return true }
            start = end + 1
        }
        return false
    }

    private static func endsWithToken(_ value: UnsafeRawBufferPointer, _ token: StaticString) -> Bool {
        var end = value.count
        while end > 0, value[end - 1] == 32 || value[end - 1] == 9 { end -= 1 }
        var start = end
        while start > 0, value[start - 1] != UInt8(ascii: ","), value[start - 1] != 32 { start -= 1 }
        return equal(UnsafeRawBufferPointer(rebasing: value[start..<end]), token)
    }
}
